package dev.l4lb.netty.structure;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The layout DESIGN.md draws, read from the sources: no two packages import each other in a
 * ring, and the modules' arrows point one way (bench to lb-netty to lb-core, and lb-core
 * never imports Netty).
 */
class PackageStructureTest {
    /** The tests run in lb-netty/; the other modules' sources sit beside it. */
    private static final Path CORE = Path.of("../lb-core/src/main/java");
    private static final Path NETTY = Path.of("src/main/java");

    @Test
    void noPackagesImportEachOtherInARing() {
        List<List<PackageImports.Edge>> cycles = PackageImports.of(CORE, NETTY).cycles();

        assertThat(cycles).as("package cycles, each with the imports that close it").isEmpty();
    }

    @Test
    void lbCoreImportsNeitherNettyNorTheDataPlane() {
        Map<String, List<String>> imports = PackageImports.of(CORE).importsByPackage();

        assertThat(imports).as("lb-core's packages").isNotEmpty();
        imports.forEach((pkg, names) -> assertThat(names).as(pkg)
                .noneMatch(name -> name.startsWith("io.netty.") || name.startsWith("dev.l4lb.netty.")));
    }

    @Test
    void aRingOfImportsIsFound(@TempDir Path sources) throws IOException {
        write(sources, "a/A.java", "package a;\nimport b.B;\nfinal class A {}\n");
        write(sources, "b/B.java", "package b;\nimport c.C;\nfinal class B {}\n");
        write(sources, "c/C.java", "package c;\nimport static a.A.X;\nfinal class C {}\n");
        write(sources, "d/D.java", "package d;\nimport a.A;\nfinal class D {}\n");

        List<List<PackageImports.Edge>> cycles = PackageImports.of(sources).cycles();

        assertThat(cycles).hasSize(1);
        assertThat(cycles.get(0)).extracting(PackageImports.Edge::from).containsExactlyInAnyOrder("a", "b", "c");
    }

    private static void write(Path root, String file, String text) throws IOException {
        Path path = root.resolve(file);
        Files.createDirectories(path.getParent());
        Files.writeString(path, text);
    }
}
