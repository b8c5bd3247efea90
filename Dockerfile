# The image every stage runs from on Kubernetes (Spark Operator). It cannot be built without the pins:
#   docker build --build-arg SPARK_VERSION=$(smartspaces pins spark-version) -t smartspaces:0.1.0 .
# The Spark base image, the Python packages and the connector jars all come from smartspaces/pins.
ARG SPARK_VERSION

# Stage 1: resolve the Spark connector jars (and their dependencies) named by the pins.
FROM maven:3.9-eclipse-temurin-17 AS connector-jars
RUN apt-get update && apt-get install -y --no-install-recommends python3 && rm -rf /var/lib/apt/lists/*
COPY smartspaces/pins /pins
RUN python3 - <<'PY'
import tomllib, re
maven = tomllib.load(open("/pins/maven.toml", "rb"))
python = dict(re.findall(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)", open("/pins/requirements.txt").read(), re.M))
scala = maven["scala_binary"]
coordinates = [f"org.apache.spark:spark-sql-kafka-0-10_{scala}:{python['pyspark']}",
               f"io.delta:delta-spark_{scala}:{python['delta-spark']}", *maven["spark_packages"].values()]
deps = "".join(f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></dependency>"
               for g, a, v in (c.split(":") for c in coordinates))
open("/pins/pom.xml", "w").write(
    '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion><groupId>smartspaces</groupId>'
    f'<artifactId>connectors</artifactId><version>1</version><dependencies>{deps}</dependencies></project>')
PY
# Spark itself is in the base image: only what it lacks is copied (provided-scope Spark jars are skipped).
RUN cd /pins && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=/jars \
    -DexcludeGroupIds=org.apache.spark,org.scala-lang

# Stage 2: Spark with the project, its pinned Python packages and the connectors.
FROM apache/spark:${SPARK_VERSION:?pass --build-arg SPARK_VERSION=$(smartspaces pins spark-version)}-scala2.12-java17-python3-ubuntu
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
