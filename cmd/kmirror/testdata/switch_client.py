"""librdkafka (through Debian's python3-confluent-kafka, a client kmirror's
project did not write) as one side of the consumer-first switch.

It consumes TOPIC as GROUP with the group protocol PROTOCOL ("classic", or
"consumer" for KIP-848 where librdkafka has it), prints each record as
"R <partition> <offset> <value>", and commits synchronously after every
poll, so that what it printed is exactly what it committed. When its
standard input ends it stops polling, closes the consumer (leaving the
group), prints "CLOSED" and exits 0.

usage: switch_client.py BOOTSTRAP GROUP TOPIC PROTOCOL RESET ISOLATION
RESET is auto.offset.reset: "earliest" on the source, "latest" on the
target, where a missing translated commit then shows as lost records.
ISOLATION is isolation.level: read_uncommitted or read_committed.
"""
import sys
import threading

from confluent_kafka import Consumer, KafkaError, KafkaException

bootstrap, group, topic, protocol, reset, isolation = sys.argv[1:7]
conf = {
    "bootstrap.servers": bootstrap,
    "group.id": group,
    "enable.auto.commit": False,
    "auto.offset.reset": reset,
    "isolation.level": isolation,
}
if protocol != "classic":
    conf["group.protocol"] = protocol
consumer = Consumer(conf)

stop = threading.Event()


def wait_stdin():
    while sys.stdin.buffer.read(4096):
        pass
    stop.set()


threading.Thread(target=wait_stdin, daemon=True).start()


def assigned(c, parts):
    print("ASSIGNED", len(parts), flush=True)


consumer.subscribe([topic], on_assign=assigned)
while not stop.is_set():
    msgs = consumer.consume(num_messages=500, timeout=0.2)
    for m in msgs:
        if m.error():
            print("ERROR", m.error(), file=sys.stderr, flush=True)
            continue
        print("R", m.partition(), m.offset(), m.value().decode(), flush=False)
    sys.stdout.flush()
    if not msgs:
        continue
    try:
        consumer.commit(asynchronous=False)
    except KafkaException as e:
        if e.args[0].code() != KafkaError._NO_OFFSET:
            raise
consumer.close()
print("CLOSED", flush=True)
