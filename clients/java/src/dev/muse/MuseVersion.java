package dev.muse;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Optional;
import java.util.Properties;

/**
 * The release of this binding and of the libmuse.so.1 it loaded. A Muse
 * release has one version everywhere (muse.h's MUSE_VERSION_STRING): mused,
 * libmuse, and the Python and Java clients.
 *
 * <p>{@code java -jar muse-client-VERSION.jar} prints both, and where the
 * library was found.
 */
public final class MuseVersion {
    private MuseVersion() {}

    private static final String BINDING = readBinding();

    private static String readBinding() {
        // Written at build time from muse.h (build.sh) or the pom (Maven): works on the class and module path alike.
        try (InputStream in = MuseVersion.class.getResourceAsStream("version.properties")) {
            if (in == null) throw new IllegalStateException("dev/muse/version.properties is missing from the jar");
            Properties properties = new Properties();
            properties.load(in);
            return properties.getProperty("version");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * This binding's release.
     *
     * @return "MAJOR.MINOR.PATCH", also the jar's Implementation-Version and its module version
     */
    public static String binding() {
        return BINDING;
    }

    /**
     * The loaded libmuse's release (muse_version). Loads the library if it is not loaded yet.
     *
     * @return "MAJOR.MINOR.PATCH", or empty for a libmuse older than 1.3, which does not say
     * @throws UnsatisfiedLinkError if libmuse.so.1 cannot be loaded
     */
    public static Optional<String> library() {
        return LibMuse.version();
    }

    /**
     * Which libmuse was loaded, and how it was found. Loads the library if it is not loaded yet.
     *
     * @return the library's path or name, then in parentheses what named it: {@code -Dmuse.library},
     *         {@code MUSE_LIBRARY}, {@code java.library.path} or the dynamic loader's search path
     * @throws UnsatisfiedLinkError if libmuse.so.1 cannot be loaded
     */
    public static String libraryLocation() {
        return LibMuse.LOCATION;
    }

    /**
     * Prints this binding's release, then the library's with where it was found.
     *
     * @param args ignored
     */
    public static void main(String[] args) {
        System.out.println("muse-client " + binding());
        System.out.println("libmuse " + library().orElse("older than 1.3") + " from " + libraryLocation());
    }
}
