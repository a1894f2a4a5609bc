# The l4lb image: the shaded jar on a Java 17 JRE.
#   mvn -B package -DskipTests && docker build -t l4lb:0.1.0 .
# The tag is the pom's version without -SNAPSHOT; config/kube/deploy/daemonset.yaml runs that
# tag (DeployManifestsTest checks the two agree).
FROM eclipse-temurin:17-jre

# iptables and ip for lb kube --iptables portals (redirect: iptables; tproxy: ip rule and route too).
RUN apt-get update \
    && apt-get install -y --no-install-recommends iptables iproute2 \
    && rm -rf /var/lib/apt/lists/*

COPY lb-netty/target/l4lb.jar /opt/l4lb/l4lb.jar

# Not root by default: lb run and lb kube without portals need no privilege. The DaemonSet runs
# the container as root (with NET_ADMIN and NET_RAW only) because portals program iptables.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin l4lb
USER 10001

LABEL org.opencontainers.image.title="l4lb" \
      org.opencontainers.image.version="0.1.0"

# The Parallel collector, as ./lb starts it (see the lb script for why).
ENTRYPOINT ["java", "-XX:+UseParallelGC", "-jar", "/opt/l4lb/l4lb.jar"]
