# The image every stage runs from on Kubernetes (Spark Operator). It cannot be built without the pins:
#   docker build --build-arg SPARK_VERSION=$(smartspaces pins spark-version) -t smartspaces:0.1.0 .
# The Spark base image, the Python packages and the connector jars all come from smartspaces/pins.
ARG SPARK_VERSION

# Stage 1: a pom of the Spark connector coordinates, as smartspaces.pins derives them.
FROM python:3.11-slim AS connector-pom
COPY smartspaces/__init__.py /src/smartspaces/__init__.py
COPY smartspaces/pins /src/smartspaces/pins
COPY smartspaces/stack/__init__.py smartspaces/stack/jars.py smartspaces/stack/process.py /src/smartspaces/stack/
RUN cd /src && python -c "from smartspaces.pins import load_pins; from smartspaces.stack.jars import maven_pom; \
open('pom.xml', 'w').write(maven_pom(load_pins().spark_packages))"

# Stage 2: resolve the connector jars and their dependencies.
FROM maven:3.9-eclipse-temurin-17 AS connector-jars
COPY --from=connector-pom /src/pom.xml /pins/pom.xml
# Spark itself is in the base image: only what it lacks is copied (provided-scope Spark jars are skipped).
RUN cd /pins && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=/jars \
    -DexcludeGroupIds=org.apache.spark,org.scala-lang

# Stage 3: Spark with the project, its pinned Python packages and the connectors.
FROM apache/spark:${SPARK_VERSION}-scala2.12-java17-python3-ubuntu
USER root
COPY --from=connector-jars /jars/ /opt/spark/jars/
WORKDIR /opt/smartspaces
COPY pyproject.toml setup.cfg README.md ./
COPY smartspaces ./smartspaces
COPY transformations ./transformations
COPY jobs ./jobs
COPY conf ./conf
# The image's Spark provides pyspark; installing the same pinned pyspark keeps the Python side identical.
RUN pip install --no-cache-dir . && chown -R 185:185 /opt/smartspaces
ENV SMARTSPACES_CONF_DIR=/opt/smartspaces/conf \
    SMARTSPACES_ENV=aks \
    PYTHONPATH=/opt/smartspaces
USER 185
