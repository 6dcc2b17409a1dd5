"""librdkafka (through confluent-kafka for Python) logs in to a dev-cluster
with SASL: it produces VALUE to partition 0 of TOPIC, then reads the
partition from its start and prints each value as "V <value>" until it has
read VALUE. It exits 1 with the error when the client reports one (an
authentication failure, for one) or when VALUE is not read within 20 s.

usage: sasl_client.py BOOTSTRAP TOPIC VALUE KEY=VALUE...
where KEY=VALUE are librdkafka settings (security.protocol, sasl.*, ssl.*).
"""
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING

bootstrap, topic, value = sys.argv[1:4]
conf = {"bootstrap.servers": bootstrap}
for kv in sys.argv[4:]:
    k, v = kv.split("=", 1)
    conf[k] = v


def fail(what):
    print("ERROR", what, flush=True)
    sys.exit(1)


def on_error(err):
    fail(err)


deadline = time.monotonic() + 20

producer = Producer(dict(conf, error_cb=on_error))
delivered = []
producer.produce(topic, value.encode(), partition=0, on_delivery=lambda err, msg: delivered.append(err))
while not delivered and time.monotonic() < deadline:
    producer.poll(0.1)
if not delivered:
    fail("no delivery report within 20 s")
if delivered[0] is not None:
    fail(delivered[0])

consumer = Consumer(dict(conf, error_cb=on_error, **{"group.id": "sasl-client", "enable.auto.commit": False}))
consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
while time.monotonic() < deadline:
    msg = consumer.poll(0.1)
    if msg is None:
        continue
    if msg.error():
        fail(msg.error())
    got = msg.value().decode()
    print("V", got, flush=True)
    if got == value:
        consumer.close()
        sys.exit(0)
fail("%r not read within 20 s" % value)
