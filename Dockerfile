# syntax=docker/dockerfile:1
# The image the Spark Operator runs every job from (spark-operator/*.yaml): Spark, the project with its pinned
# Python packages and conf/, and the Spark connector jars baked in. Every version comes from smartspaces/pins:
#   docker build --build-arg SPARK_VERSION=$(smartspaces pins spark-version) -t smartspaces:<project version> .
# (<project version> is the tag the rendered manifests name.)

ARG SPARK_VERSION
# Stops the build at once, saying what to pass, when SPARK_VERSION is missing.
ARG SPARK_IMAGE="apache/spark:${SPARK_VERSION:?pass --build-arg SPARK_VERSION=<output of smartspaces pins spark-version>}-scala2.12-java17-python3-ubuntu"

# Stage 1: Spark with the project installed.
FROM ${SPARK_IMAGE} AS app
ARG SPARK_VERSION
USER root
# The Spark image's Python is Ubuntu 22.04's 3.10; the project needs 3.11 (pyproject's requires-python).
# It gets a virtualenv of its own, which the driver and the executors both run (PYSPARK_PYTHON).
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3.11 python3.11-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3.11 -m venv /opt/venv
# LOG4J_CONFIGURATION_FILE: the driver's and the executors' JVMs log with the platform's log4j2 configuration
# (the same file local sessions pass with -Dlog4j2.configurationFile).
ENV PATH=/opt/venv/bin:$PATH \
    PYSPARK_PYTHON=/opt/venv/bin/python \
    PYSPARK_DRIVER_PYTHON=/opt/venv/bin/python \
    SMARTSPACES_CONF_DIR=/opt/smartspaces/conf \
    LOG4J_CONFIGURATION_FILE=/opt/smartspaces/smartspaces/log4j2.properties
WORKDIR /opt/smartspaces
# The pinned dependencies first, in a layer of their own that code changes do not rebuild.
COPY smartspaces/pins/requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt
COPY pyproject.toml setup.cfg README.md LICENSE ./
COPY conf ./conf
COPY jobs ./jobs
COPY transformations ./transformations
COPY smartspaces ./smartspaces
# The executors' pod template (spark.kubernetes.executor.podTemplateFile in every SparkApplication).
COPY kubernetes ./kubernetes
# The jobs run as local:///opt/smartspaces/jobs/<job>.py and import the installed packages.
RUN pip install --no-cache-dir --no-deps . \
    && rm -rf build ./*.egg-info
# The base image must be the pinned Spark; then the connectors' pom (smartspaces.pins) for the next stage.
RUN pinned="$(smartspaces --env aks pins spark-version)" \
    && { [ "$pinned" = "$SPARK_VERSION" ] \
         || { echo "SPARK_VERSION=$SPARK_VERSION but smartspaces/pins pins Spark $pinned" >&2; exit 1; }; } \
    && python -c "from smartspaces.pins import load_pins; from smartspaces.stack.jars import maven_pom; \
print(maven_pom(load_pins().spark_packages + load_pins().image_packages))" > /opt/smartspaces/spark-connectors.pom.xml

# Stage 2: the connector jars and their runtime dependencies, resolved by Maven from the pinned coordinates.
FROM maven:3-eclipse-temurin-17 AS connector-jars
WORKDIR /build
COPY --from=app /opt/smartspaces/spark-connectors.pom.xml ./pom.xml
# The repository layout keeps each jar under .../<artifactId>/<version>/, so the next stage knows its artifact.
RUN mvn -B -q dependency:copy-dependencies -DincludeScope=runtime -Dmdep.useRepositoryLayout=true \
    -DoutputDirectory=/build/jars

# Stage 3: the project's own JVM classes (smartspaces/jvm: the PostgreSQL binary COPY writer, the change feed's
# query templates, the events' digest's partial lists, the local file system), compiled as smartspaces.project_jar compiles them locally: against this image's Spark and the
# connectors' PostgreSQL driver.
FROM maven:3-eclipse-temurin-17 AS project-classes
RUN --mount=type=bind,from=app,source=/opt/spark/jars,target=/tmp/spark-jars \
    --mount=type=bind,from=connector-jars,source=/build/jars,target=/tmp/connector-jars \
    --mount=type=bind,source=smartspaces/jvm,target=/tmp/sources \
    classpath="$(find /tmp/spark-jars /tmp/connector-jars -name '*.jar' | sort | paste -sd: -)" \
    && javac --release 17 -nowarn -d /build/classes -cp "$classpath" $(find /tmp/sources -name '*.java') \
    && jar cf /build/smartspaces-jvm.jar -C /build/classes .

# Stage 4: the image.
FROM app
COPY --from=project-classes /build/smartspaces-jvm.jar /opt/spark/jars/
# Only the jars Spark does not ship are added. A second copy of what Spark has (Hadoop client, slf4j,
# snappy, commons-lang3, scala-library...) in another version would sit beside it on the classpath, in
# no defined order; `spark.jars.packages` (the local runs) also lets Spark's own copy win.
RUN --mount=type=bind,from=connector-jars,source=/build/jars,target=/tmp/connector-jars \
    set -e; \
    find /tmp/connector-jars -name '*.jar' | sort | while read -r jar; do \
        artifact="$(basename "$(dirname "$(dirname "$jar")")")"; \
        set -- "$SPARK_HOME/jars/$artifact"-[0-9]*.jar; \
        if [ -e "$1" ]; then echo "Spark ships $artifact: $(basename "$1")"; \
        else echo "adding $(basename "$jar")"; cp "$jar" "$SPARK_HOME/jars/"; fi; \
    done
# Spark's working directory (writable by its user); the project stays read-only for uid 185.
WORKDIR /opt/spark/work-dir
USER 185
