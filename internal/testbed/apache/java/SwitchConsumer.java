// SwitchConsumer: the Java KafkaConsumer (kafka-clients, a client kmirror's
// project did not write) as one side of the consumer-first switch. It
// consumes TOPIC as GROUP with the group protocol PROTOCOL ("classic" or
// "consumer", KIP-848), prints each record as "R <partition> <offset>
// <value>", and commits synchronously after every poll, so that what it
// printed is exactly what it committed. When its standard input ends it
// stops polling, closes the consumer (leaving the group), prints "CLOSED"
// and exits 0.
//
// Run in source-file mode with Kafka's jars on the class path:
//   java -cp 'JARS/*' SwitchConsumer.java BOOTSTRAP GROUP TOPIC PROTOCOL RESET ISOLATION
// RESET is auto.offset.reset: "earliest" on the source, "latest" on the
// target, where a missing translated commit then shows as lost records.
// ISOLATION is isolation.level: read_uncommitted or read_committed.

import java.io.InputStream;
import java.io.PrintStream;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

public class SwitchConsumer {
    public static void main(String[] args) throws Exception {
        if (args.length != 6) {
            System.err.println("usage: SwitchConsumer BOOTSTRAP GROUP TOPIC PROTOCOL RESET ISOLATION");
            System.exit(2);
        }
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        props.put("group.id", args[1]);
        props.put("group.protocol", args[3]);
        props.put("auto.offset.reset", args[4]);
        props.put("isolation.level", args[5]);
        props.put("enable.auto.commit", "false");
        props.put("key.deserializer", StringDeserializer.class.getName());
        props.put("value.deserializer", StringDeserializer.class.getName());
        PrintStream out = System.out;
        AtomicBoolean stop = new AtomicBoolean();
        Thread stdin = new Thread(() -> {
            try {
                InputStream in = System.in;
                while (in.read() >= 0) {
                    // only the end matters
                }
            } catch (Exception e) {
                // an error ends the input too
            }
            stop.set(true);
        });
        stdin.setDaemon(true);
        stdin.start();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
            consumer.subscribe(List.of(args[2]), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> parts) {
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> parts) {
                    out.println("ASSIGNED " + parts.size());
                    out.flush();
                }
            });
            while (!stop.get()) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    out.println("R " + r.partition() + " " + r.offset() + " " + r.value());
                }
                out.flush();
                consumer.commitSync();
            }
        }
        out.println("CLOSED");
        out.flush();
    }
}
