"""Apache Kafka in KRaft mode (single node) from Maven Central jars, no Docker."""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .process import ROOT, Service, StackError, free_port, need_binary, run, spawn, wait_until
from .tls import make_tls_files

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


@dataclass(frozen=True)
class Acl:
    """Allow `principal` (a SCRAM user name) `operations` on the named topics and groups, or
    on the cluster; `prefixed` makes the names prefixes (`--resource-pattern-type prefixed`)."""

    principal: str
    operations: tuple[str, ...]
    topics: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    cluster: bool = False
    prefixed: bool = False


@dataclass(frozen=True)
class Secure:
    """A SASL_SSL listener with SCRAM-SHA-512 users and ACLs enforced (StandardAuthorizer, no ACL
    means no access). `admin` is a super user, also used for the broker's own connections."""

    users: dict[str, str]
    admin_password: str = field(default_factory=lambda: secrets.token_hex(16))

    def jaas(self, user: str, password: str) -> str:
        return f'org.apache.kafka.common.security.scram.ScramLoginModule required username="{user}" password="{password}";'


def _listener_props(port: int, cport: int, secure: Secure | None, tls: dict[str, Path] | None) -> list[str]:
    if secure is None or tls is None:
        return [f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT"]
    # The controller listener stays PLAINTEXT on 127.0.0.1: the broker reaches it as ANONYMOUS,
    # hence that super user. Everything else, the broker's own connections included, is SASL_SSL.
    return [f"listeners=SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
            f"advertised.listeners=SASL_SSL://127.0.0.1:{port}",
            "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name=SASL_SSL",
            "sasl.enabled.mechanisms=SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
            f"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={secure.jaas('admin', secure.admin_password)}",
            "ssl.keystore.type=PEM",
            f"ssl.keystore.location={tls['keystore']}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={tls['ca']}",
            "ssl.client.auth=none",
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users=User:admin;User:ANONYMOUS",
            "allow.everyone.if.no.acl.found=false"]


def start(workdir: Path, port: int | None = None, heap_mb: int = 512,
          partitions: int = 8, secure: Secure | None = None) -> Service:
    """A single KRaft node. With `secure`, its one client listener is SASL_SSL with SCRAM-SHA-512
    (a throw-away CA under workdir/tls) and ACLs are enforced: the Service's urls then also hold
    the client settings (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM, KAFKA_SSL_CAFILE) and
    KAFKA_ADMIN_PROPERTIES, the admin's client file for Kafka's tools (see `add_acls`)."""
    libs = install()
    port = port or free_port()
    cport = free_port()
    data = workdir / "kafka-data"
    data.mkdir(parents=True, exist_ok=True)
    tls = None
    if secure is not None:
        # A restart (same workdir) keeps the CA its clients already trust.
        tls = (make_tls_files(workdir / "tls") if not (workdir / "tls" / "server-keystore.pem").exists() else
               {name: workdir / "tls" / file for name, file in (("ca", "ca.pem"), ("cert", "server.pem"),
                                                                ("key", "server.key"))})
        keystore = workdir / "tls" / "server-keystore.pem"  # PEM keystore: the key, then the chain
        keystore.write_text(tls["key"].read_text() + tls["cert"].read_text())
        tls["keystore"] = keystore
    props = workdir / "server.properties"
    props.write_text("\n".join([
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@127.0.0.1:{cport}",
        *_listener_props(port, cport, secure, tls),
        "controller.listener.names=CONTROLLER",
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
        scram: list[str] = []
        if secure is not None:  # SCRAM users are metadata records, written at format time
            for user, password in {"admin": secure.admin_password, **secure.users}.items():
                scram += ["--add-scram", f"SCRAM-SHA-512=[name={user},password={password}]"]
        run(_java(libs, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props), *scram,
                  jvm=(f"-Dlog4j.configuration=file:{log4j}",)))
    jvm = (f"-Xmx{heap_mb}m", f"-Xms{min(heap_mb, 256)}m", "-XX:+UseG1GC",
           f"-Dlog4j.configuration=file:{log4j}", "-Djava.awt.headless=true")
    log_path = workdir / "kafka.log"
    svc = spawn("kafka", _java(libs, "kafka.Kafka", str(props), jvm=jvm), log_path)
    wait_until(svc, lambda: "Kafka Server started" in log_path.read_text(errors="replace")
               or "KafkaServer id=1] started" in log_path.read_text(errors="replace"), 90)
    svc.urls["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{port}"
    if secure is not None and tls is not None:
        admin = workdir / "admin.properties"
        admin.write_text("\n".join(["security.protocol=SASL_SSL", "sasl.mechanism=SCRAM-SHA-512",
                                    f"sasl.jaas.config={secure.jaas('admin', secure.admin_password)}",
                                    "ssl.truststore.type=PEM", f"ssl.truststore.location={tls['ca']}", ""]))
        svc.urls.update(KAFKA_SECURITY_PROTOCOL="SASL_SSL", KAFKA_SASL_MECHANISM="SCRAM-SHA-512",
                        KAFKA_SSL_CAFILE=str(tls["ca"]), KAFKA_ADMIN_PROPERTIES=str(admin))
    return svc


def add_acls(svc: Service, acls: list[Acl], heap_mb: int = 128) -> None:
    """Create ACLs on a secured broker from `start(..., secure=...)` with Kafka's AclCommand, as
    its admin. One JVM per Acl, run side by side (a few seconds each)."""
    libs = install()
    tools_log4j = svc.log_path.parent / "tools-log4j.properties"
    tools_log4j.write_text("log4j.rootLogger=WARN, stderr\nlog4j.appender.stderr=org.apache.log4j.ConsoleAppender\n"
                           "log4j.appender.stderr.Target=System.err\n"
                           "log4j.appender.stderr.layout=org.apache.log4j.PatternLayout\n")
    procs = []
    for acl in acls:
        args = ["--bootstrap-server", svc.urls["KAFKA_BOOTSTRAP_SERVERS"],
                "--command-config", svc.urls["KAFKA_ADMIN_PROPERTIES"], "--add",
                "--allow-principal", f"User:{acl.principal}"]
        for op in acl.operations:
            args += ["--operation", op]
        for t in acl.topics:
            args += ["--topic", t]
        for g in acl.groups:
            args += ["--group", g]
        if acl.cluster:
            args.append("--cluster")
        if acl.prefixed:
            args += ["--resource-pattern-type", "prefixed"]
        cmd = _java(libs, "kafka.admin.AclCommand", *args,
                    jvm=(f"-Xmx{heap_mb}m", "-XX:TieredStopAtLevel=1", f"-Dlog4j.configuration=file:{tools_log4j}"))
        procs.append((acl, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
    failed = []
    for acl, proc in procs:
        out, _ = proc.communicate(timeout=120)
        if proc.returncode != 0:
            failed.append(f"{acl}: {out[-2000:]}")
    if failed:
        raise StackError("AclCommand failed:\n" + "\n".join(failed))


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
