"""Redis persistence as docs/operations.md ("Backup and restore", "Redis persistence") prescribes and
docker-compose.yml runs it: a redis-server started with the compose file's own options answers the
documented checks (`CONFIG GET appendonly` / `appendfsync` / `save`), and a stream with its consumer
group and a pending entry survives a crash (SIGKILL, then a restart on the same directory)."""

from __future__ import annotations

import signal
import time

import redis
import yaml

from tests.ops.support import ROOT
from tests.support.eventually import eventually
from tests.support.servers import RedisServer

STREAM, GROUP = "mlp:test:persistence", "notifier"


def compose_redis_options() -> list[str]:
    command = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]["redis"]["command"]
    assert command[0] == "redis-server"
    return command[1:]


def test_compose_redis_settings_answer_the_documented_checks_and_keep_streams_across_a_crash():
    options = compose_redis_options()
    assert options == ["--appendonly", "yes", "--appendfsync", "everysec", "--save", "300 1"]
    server = RedisServer(args=options).start()
    try:
        client = redis.Redis(port=server.port, decode_responses=True)
        # The operator's checks (redis-cli … CONFIG GET appendonly / CONFIG GET appendfsync).
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
        assert client.config_get("save") == {"save": "300 1"}

        client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        ids = [client.xadd(STREAM, {"event_id": f"e{i}"}) for i in range(3)]
        read = client.xreadgroup(GROUP, "notifier-i0", {STREAM: ">"}, count=1)  # one entry pending
        assert read[0][1][0][0] == ids[0]
        client.close()
        time.sleep(2)  # appendfsync everysec: at most one second of writes is at risk
        server.proc.send_signal(signal.SIGKILL)  # a crash: no shutdown save
        server.proc.wait(10)
        server.start()  # same port, same directory: the AOF is replayed

        client = redis.Redis(port=server.port, decode_responses=True)
        eventually(lambda: client.info("persistence")["loading"] == 0, timeout=10, what="AOF loaded")
        assert [entry_id for entry_id, _ in client.xrange(STREAM)] == ids
        (group,) = client.xinfo_groups(STREAM)
        assert group["name"] == GROUP and group["pending"] == 1 and group["last-delivered-id"] == ids[0]
        pending = client.xpending_range(STREAM, GROUP, min="-", max="+", count=10)
        assert [(p["message_id"], p["consumer"]) for p in pending] == [(ids[0], "notifier-i0")]
        client.close()
    finally:
        server.stop()
