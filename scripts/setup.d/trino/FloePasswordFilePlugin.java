// Trino's password file authenticator (`password-authenticator.name=file`), for the tree
// scripts/setup.d/60-trino.sh assembles: Maven Central does not serve Trino's own
// io.trino:trino-password-authenticators:483 (refused 2026-12-02), so this plugin, compiled
// there against trino-spi, stands in for its `file` authenticator. Trino itself (HTTPS, the
// PASSWORD authentication type, the 401 challenge, the shared secret) is the real server.
//
// Same configuration as Trino's: `file.password-file` names a file of `user:hash` lines; the
// hash is PBKDF2 in Trino's format `iterations:salt:hash` (lowercase hex, HMAC-SHA256, at
// least 1000 iterations). Unlike Trino's: bcrypt lines are refused (no bcrypt in the JDK),
// the file is read once at start (no `file.refresh-period`), and nothing is cached.
import io.trino.spi.Plugin;
import io.trino.spi.security.AccessDeniedException;
import io.trino.spi.security.BasicPrincipal;
import io.trino.spi.security.PasswordAuthenticator;
import io.trino.spi.security.PasswordAuthenticatorFactory;

import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.Principal;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;

public final class FloePasswordFilePlugin implements Plugin {
    private static final int MIN_ITERATIONS = 1000;

    @Override
    public Iterable<PasswordAuthenticatorFactory> getPasswordAuthenticatorFactories() {
        return List.of(new Factory());
    }

    private record Hashed(int iterations, byte[] salt, byte[] hash) {
        boolean matches(String password) {
            try {
                PBEKeySpec spec = new PBEKeySpec(password.toCharArray(), salt, iterations, hash.length * 8);
                byte[] actual = SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
                return MessageDigest.isEqual(hash, actual);
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("PBKDF2WithHmacSHA256 is not available", e);
            }
        }
    }

    private static final class Factory implements PasswordAuthenticatorFactory {
        @Override
        public String getName() {
            return "file";
        }

        @Override
        public PasswordAuthenticator create(Map<String, String> config) {
            for (String key : config.keySet()) {
                if (!Set.of("file.password-file").contains(key)) {
                    throw new IllegalArgumentException("unknown property of the file password authenticator: " + key);
                }
            }
            String file = config.get("file.password-file");
            if (file == null) {
                throw new IllegalArgumentException("file.password-file is not set");
            }
            Map<String, Hashed> users = read(Path.of(file));
            return (user, password) -> {
                Hashed entry = users.get(user);
                if (entry == null || !entry.matches(password)) {
                    throw new AccessDeniedException("Invalid credentials");
                }
                Principal principal = new BasicPrincipal(user);
                return principal;
            };
        }

        private static Map<String, Hashed> read(Path path) {
            List<String> lines;
            try {
                lines = Files.readAllLines(path);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the password file " + path, e);
            }
            Map<String, Hashed> users = new HashMap<>();
            int number = 0;
            for (String line : lines) {
                number++;
                if (line.isBlank()) {
                    continue;
                }
                String[] parts = line.split(":", -1);
                if (parts.length != 4) {
                    throw new IllegalArgumentException(path + " line " + number + ": want user:iterations:salt:hash (PBKDF2; bcrypt is not supported here)");
                }
                int iterations = Integer.parseInt(parts[1]);
                if (iterations < MIN_ITERATIONS) {
                    throw new IllegalArgumentException(path + " line " + number + ": PBKDF2 needs at least " + MIN_ITERATIONS + " iterations");
                }
                HexFormat hex = HexFormat.of();
                users.put(parts[0], new Hashed(iterations, hex.parseHex(parts[2]), hex.parseHex(parts[3])));
            }
            return Map.copyOf(users);
        }
    }
}
