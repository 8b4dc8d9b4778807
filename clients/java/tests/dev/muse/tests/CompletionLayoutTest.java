package dev.muse.tests;

import dev.muse.Completions;

import java.io.IOException;
import java.lang.foreign.MemoryLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The binding's muse_completion layout against muse.h itself: compiles a
 * tiny C program that prints sizeof and every field's offsetof, and compares.
 * Usage: CompletionLayoutTest INCLUDE_DIR (the directory holding muse.h)
 */
public final class CompletionLayoutTest {
    private static final String[] FIELDS = {"tag", "status", "predictor_id", "score", "raw_score", "generation_id",
                                            "reserved"};

    public static void main(String[] args) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("muse-java-layout");
        StringBuilder c = new StringBuilder("#include \"muse.h\"\nint main(void) {\n");
        c.append("    printf(\"size %zu\\n\", sizeof(muse_completion));\n");
        for (String field : FIELDS)
            c.append("    printf(\"").append(field).append(" %zu\\n\", offsetof(muse_completion, ").append(field)
             .append("));\n");
        c.append("    return 0;\n}\n");
        Path source = dir.resolve("layout.c");
        Path program = dir.resolve("layout");
        Files.writeString(source, c);
        Process cc = new ProcessBuilder("cc", "-std=c11", "-I", args[0], source.toString(), "-o", program.toString())
                .inheritIO().start();
        Check.that(cc.waitFor() == 0, "muse.h layout printer compiles");
        Process run = new ProcessBuilder(program.toString()).redirectErrorStream(true).start();
        String output = new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        Check.that(run.waitFor() == 0, "muse.h layout printer runs", output);
        Map<String, Long> header = new HashMap<>();
        for (String line : output.split("\n")) {
            String[] parts = line.trim().split(" ");
            if (parts.length == 2) header.put(parts[0], Long.parseLong(parts[1]));
        }
        Check.that(Completions.LAYOUT.byteSize() == 64 && header.get("size") == 64,
                "muse_completion is 64 bytes in muse.h and in Java", header.get("size"));
        boolean same = true;
        StringBuilder diff = new StringBuilder();
        for (String field : FIELDS) {
            long java = Completions.LAYOUT.byteOffset(MemoryLayout.PathElement.groupElement(field));
            if (!Long.valueOf(java).equals(header.get(field))) {
                same = false;
                diff.append(field).append(": java ").append(java).append(" C ").append(header.get(field)).append("; ");
            }
        }
        Check.that(same, "every muse_completion field is at muse.h's offset", diff);
        Files.delete(program);
        Files.delete(source);
        Files.delete(dir);
        Check.finish();
    }
}
