package dev.l4lb.netty.structure;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The package graph of Java source trees as their import lines draw it: which package imports
 * which, and through which file. Enough for the structure tests; a class used by its fully
 * qualified name without an import is not seen.
 */
final class PackageImports {
    private static final Pattern PACKAGE = Pattern.compile("^package ([\\w.]+);", Pattern.MULTILINE);
    private static final Pattern IMPORT = Pattern.compile("^import (?:static )?([\\w.]+)(?:\\.\\*)?;", Pattern.MULTILINE);

    /** An import from one package into another: {@code file} in {@code from} imports {@code imported}. */
    record Edge(String from, String to, String file, String imported) {
    }

    private final Map<String, String> packageOfClass = new HashMap<>();
    private final List<Edge> edges = new ArrayList<>();
    private final Map<String, List<String>> importsByPackage = new TreeMap<>();

    private PackageImports() {
    }

    /** Reads every .java file under {@code roots}. */
    static PackageImports of(Path... roots) {
        PackageImports graph = new PackageImports();
        Map<Path, String> sources = new TreeMap<>();
        for (Path root : roots) {
            try (Stream<Path> files = Files.walk(root)) {
                for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
                    sources.put(file, Files.readString(file));
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        sources.forEach((file, text) -> {
            Matcher pkg = PACKAGE.matcher(text);
            if (pkg.find()) {
                String name = file.getFileName().toString();
                graph.packageOfClass.put(pkg.group(1) + "." + name.substring(0, name.length() - 5), pkg.group(1));
            }
        });
        sources.forEach((file, text) -> {
            Matcher pkg = PACKAGE.matcher(text);
            if (!pkg.find()) {
                return;
            }
            String from = pkg.group(1);
            Matcher imports = IMPORT.matcher(text);
            while (imports.find()) {
                String imported = imports.group(1);
                graph.importsByPackage.computeIfAbsent(from, p -> new ArrayList<>()).add(imported);
                String to = graph.packageOf(imported);
                if (to != null && !to.equals(from)) {
                    graph.edges.add(new Edge(from, to, file.getFileName().toString(), imported));
                }
            }
        });
        return graph;
    }

    /** Every import line's name, by the package of the file it is in. */
    Map<String, List<String>> importsByPackage() {
        return importsByPackage;
    }

    /**
     * The groups of packages that import each other in a ring, each with the imports that close
     * it; empty when the graph has no cycle.
     */
    List<List<Edge>> cycles() {
        Map<String, Set<String>> out = new TreeMap<>();
        for (Edge edge : edges) {
            out.computeIfAbsent(edge.from(), p -> new TreeSet<>()).add(edge.to());
            out.computeIfAbsent(edge.to(), p -> new TreeSet<>());
        }
        List<List<Edge>> cycles = new ArrayList<>();
        for (Set<String> component : new Tarjan(out).components()) {
            if (component.size() > 1) {
                cycles.add(edges.stream().filter(e -> component.contains(e.from()) && component.contains(e.to())).toList());
            }
        }
        return cycles;
    }

    /** The package a class, a nested class or a static member belongs to, when it is in these sources. */
    private String packageOf(String imported) {
        for (String name = imported; name.contains("."); name = name.substring(0, name.lastIndexOf('.'))) {
            String pkg = packageOfClass.get(name);
            if (pkg != null) {
                return pkg;
            }
        }
        return null;
    }

    /** Tarjan's strongly connected components. */
    private static final class Tarjan {
        private final Map<String, Set<String>> graph;
        private final Map<String, Integer> index = new HashMap<>();
        private final Map<String, Integer> low = new HashMap<>();
        private final Deque<String> stack = new ArrayDeque<>();
        private final Set<String> onStack = new HashSet<>();
        private final List<Set<String>> components = new ArrayList<>();

        Tarjan(Map<String, Set<String>> graph) {
            this.graph = graph;
        }

        List<Set<String>> components() {
            for (String node : graph.keySet()) {
                if (!index.containsKey(node)) {
                    visit(node);
                }
            }
            return components;
        }

        private void visit(String node) {
            index.put(node, index.size());
            low.put(node, index.get(node));
            stack.push(node);
            onStack.add(node);
            for (String next : graph.get(node)) {
                if (!index.containsKey(next)) {
                    visit(next);
                    low.put(node, Math.min(low.get(node), low.get(next)));
                } else if (onStack.contains(next)) {
                    low.put(node, Math.min(low.get(node), index.get(next)));
                }
            }
            if (low.get(node).equals(index.get(node))) {
                Set<String> component = new TreeSet<>();
                String member;
                do {
                    member = stack.pop();
                    onStack.remove(member);
                    component.add(member);
                } while (!member.equals(node));
                components.add(component);
            }
        }
    }
}
