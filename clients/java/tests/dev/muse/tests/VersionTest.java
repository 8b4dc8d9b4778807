package dev.muse.tests;

import dev.muse.MuseVersion;

import java.io.IOException;
import java.lang.module.ModuleDescriptor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.jar.JarFile;
import java.util.jar.Manifest;

/**
 * One release everywhere: the binding's version, its module's, its jar's
 * manifest and the loaded libmuse's muse_version() are muse.h's release; and
 * libmuse is found through each documented route, in order, without the JVM's
 * native-access warnings. Runs on the module path (dev.muse, with MUSE_LIBRARY
 * set), and starts other JVMs for the routes.
 * Usage: VersionTest RELEASE JAR LIBRARY (RELEASE from muse.h; LIBRARY the libmuse.so.1 path)
 */
public final class VersionTest {
    public static void main(String[] args) throws IOException, InterruptedException {
        String release = args[0];
        Path jar = Path.of(args[1]);
        Path library = Path.of(args[2]);

        Check.that(MuseVersion.binding().equals(release), "the binding's version is muse.h's release",
                MuseVersion.binding() + " vs " + release);
        Check.that(MuseVersion.library().orElse("none").equals(release),
                "the loaded libmuse's muse_version() is the binding's version", MuseVersion.library());
        Check.that(MuseVersion.libraryLocation().equals(library + " (MUSE_LIBRARY)"),
                "libmuse comes from MUSE_LIBRARY", MuseVersion.libraryLocation());
        Module module = MuseVersion.class.getModule();
        Check.that(module.isNamed() && module.getName().equals("dev.muse"), "the binding runs as the module dev.muse",
                module);
        Check.that(module.isNamed() && module.getDescriptor().version().map(ModuleDescriptor.Version::toString)
                .orElse("").equals(release), "the module's version is the release", module.getDescriptor());
        try (JarFile file = new JarFile(jar.toFile())) {
            Manifest manifest = file.getManifest();
            var attributes = manifest.getMainAttributes();
            Check.that(release.equals(attributes.getValue("Implementation-Version")),
                    "the jar's Implementation-Version is the release", attributes.getValue("Implementation-Version"));
            Check.that("ALL-UNNAMED".equals(attributes.getValue("Enable-Native-Access")),
                    "the jar's manifest enables native access", attributes.getValue("Enable-Native-Access"));
            Check.that(file.getEntry("META-INF/maven/dev.muse/muse-client/pom.xml") != null,
                    "the jar carries its pom");
        }

        String bogus = library.resolveSibling("no-such-libmuse.so.1").toString();
        Run property = java(Map.of("MUSE_LIBRARY", bogus), "--enable-native-access=dev.muse",
                "-Dmuse.library=" + library, "--module-path", jar.toString(), "--module", "dev.muse");
        Check.that(property.ok() && property.out().contains("libmuse " + release + " from " + library + " (-Dmuse.library)"),
                "-Dmuse.library wins over MUSE_LIBRARY", property);
        Run libraryPath = java(Map.of(), "--enable-native-access=dev.muse", "-Djava.library.path=" + library.getParent(),
                "--module-path", jar.toString(), "--module", "dev.muse");
        Check.that(libraryPath.ok() && libraryPath.out().contains("(java.library.path)"),
                "without either, libmuse.so.1 is found in java.library.path", libraryPath);
        Run wrong = java(Map.of("MUSE_LIBRARY", bogus), "--enable-native-access=dev.muse",
                "--module-path", jar.toString(), "--module", "dev.muse");
        Check.that(!wrong.ok() && wrong.out().contains(bogus + " (MUSE_LIBRARY)"),
                "a MUSE_LIBRARY that does not load is an error naming it", wrong);
        Run executable = java(Map.of("MUSE_LIBRARY", library.toString()), "-jar", jar.toString());
        Check.that(executable.ok() && executable.out().equals("muse-client " + release + "\nlibmuse " + release
                + " from " + library + " (MUSE_LIBRARY)\n"),
                "java -jar prints both versions, without native-access warnings (manifest)", executable);
        Run classPath = java(Map.of("MUSE_LIBRARY", library.toString()), "--enable-native-access=ALL-UNNAMED",
                "-cp", jar.toString(), "dev.muse.MuseVersion");
        Check.that(classPath.ok() && classPath.out().startsWith("muse-client " + release + "\n"),
                "on the class path too, without warnings", classPath);
        Check.finish();
    }

    record Run(int status, String out) {
        boolean ok() {
            return status == 0 && !out.contains("WARNING");
        }
    }

    /** Another JVM, this one's java, with MUSE_LIBRARY as {@code environment} says (absent unless there). */
    private static Run java(Map<String, String> environment, String... arguments) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        command.addAll(List.of(arguments));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().remove("MUSE_LIBRARY");
        builder.environment().putAll(environment);
        Process process = builder.start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int status = process.waitFor();
        return new Run(status, out);
    }
}
