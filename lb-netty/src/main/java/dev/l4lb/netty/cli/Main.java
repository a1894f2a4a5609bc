package dev.l4lb.netty.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code lb} command: entry point of the executable jar. */
@Command(name = "lb",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = "l4lb: a userspace L4 (TCP and UDP) load balancer with Kubernetes Service semantics.",
        subcommands = {RunCommand.class, KubeCommand.class, DemoCommand.class, ListCommand.class, EchoServerCommand.class, CheckCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The command line, for tests that run commands in-process. */
    public static CommandLine commandLine() {
        return new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
