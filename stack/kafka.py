"""Apache Kafka in KRaft mode (single node) from Maven Central jars, no Docker."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .process import ROOT, Service, free_port, need_binary, run, spawn, wait_until

KAFKA_VERSION = "3.9.1"
CACHE = Path.home() / ".cache" / "pads-stream" / f"kafka-{KAFKA_VERSION}"
LIBS = CACHE / "libs"

LOG4J = """\
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
"""


def install() -> Path:
    """Resolve the broker classpath once; later calls reuse the cached jars."""
    marker = LIBS / ".complete"
    if marker.exists():
        return LIBS
    need_binary("mvn", "install Maven (apt-get install -y maven)")
    need_binary("java", "install a JDK 17 (apt-get install -y openjdk-17-jre-headless)")
    LIBS.mkdir(parents=True, exist_ok=True)
    run(["mvn", "-q", "-B", "-f", str(ROOT / "stack" / "kafka-pom.xml"),
         f"-Dkafka.version={KAFKA_VERSION}",
         "dependency:copy-dependencies", f"-DoutputDirectory={LIBS}"])
    marker.touch()
    return LIBS


def _java(libs: Path, main: str, *args: str, jvm: tuple[str, ...] = ()) -> list[str]:
    return ["java", *jvm, "-cp", f"{libs}/*", main, *args]


def start(workdir: Path, port: int | None = None, heap_mb: int = 512,
          partitions: int = 8) -> Service:
    libs = install()
    port = port or free_port()
    cport = free_port()
    data = workdir / "kafka-data"
    data.mkdir(parents=True, exist_ok=True)
    props = workdir / "server.properties"
    props.write_text("\n".join([
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@127.0.0.1:{cport}",
        f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name=PLAINTEXT",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=8",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        f"num.partitions={partitions}",
        "auto.create.topics.enable=true",
        f"log.dirs={data}",
        "log.retention.hours=-1",
        "",
    ]))
    log4j = workdir / "log4j.properties"
    log4j.write_text(LOG4J)
    if not (data / "meta.properties").exists():
        cluster_id = subprocess.run(_java(libs, "kafka.tools.StorageTool", "random-uuid"),
                                    capture_output=True, text=True, check=True).stdout.strip()
        run(_java(libs, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props),
                  jvm=(f"-Dlog4j.configuration=file:{log4j}",)))
    jvm = (f"-Xmx{heap_mb}m", f"-Xms{min(heap_mb, 256)}m", "-XX:+UseG1GC",
           f"-Dlog4j.configuration=file:{log4j}", "-Djava.awt.headless=true")
    log_path = workdir / "kafka.log"
    svc = spawn("kafka", _java(libs, "kafka.Kafka", str(props), jvm=jvm), log_path)
    wait_until(svc, lambda: "Kafka Server started" in log_path.read_text(errors="replace")
               or "KafkaServer id=1] started" in log_path.read_text(errors="replace"), 90)
    svc.urls["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{port}"
    return svc


def version() -> str:
    return KAFKA_VERSION


if __name__ == "__main__":  # pragma: no cover - manual smoke
    import sys
    import tempfile

    s = start(Path(tempfile.mkdtemp()))
    print(s.urls)
    try:
        s.proc.wait()
    except KeyboardInterrupt:
        s.stop()
    sys.exit(0)
