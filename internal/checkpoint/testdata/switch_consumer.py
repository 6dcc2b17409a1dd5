"""A consumer this project did not write (librdkafka, through Debian's
python3-confluent-kafka) performs the consumer-first switch: it joins GROUP
on the target and prints, as JSON, the first record it receives on each of
PARTITIONS partitions of TOPIC.

usage: switch_consumer.py BOOTSTRAP GROUP TOPIC PARTITIONS
"""
import json
import sys
import time

from confluent_kafka import Consumer

bootstrap, group, topic, partitions = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
consumer = Consumer({
    "bootstrap.servers": bootstrap,
    "group.id": group,
    "enable.auto.commit": False,
    # Without a committed offset, start at the end: a missing commit shows
    # as a wrong first record.
    "auto.offset.reset": "latest",
    "isolation.level": "read_committed",
})
consumer.subscribe([topic])
first = {}
deadline = time.time() + 60
while len(first) < partitions and time.time() < deadline:
    msg = consumer.poll(0.5)
    if msg is None:
        continue
    if msg.error():
        print(json.dumps({"error": str(msg.error())}))
        sys.exit(1)
    first.setdefault(str(msg.partition()), msg.value().decode())
consumer.close()
print(json.dumps(first))
sys.exit(0 if len(first) == partitions else 2)
