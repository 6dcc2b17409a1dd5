// DrainProducer: the Java KafkaProducer (kafka-clients, a client kmirror's
// project did not write, idempotent by default) as a producer that keeps
// writing while an operator checks whether its topic is drained. It writes
// one record every 100 ms to PARTITION of TOPIC, prints "STARTED" once the
// first is acknowledged, and when its standard input ends it closes the
// producer (sending what it holds), prints "CLOSED" and exits 0.
//
// Run in source-file mode with Kafka's jars on the class path:
//   java -cp 'JARS/*' DrainProducer.java BOOTSTRAP TOPIC PARTITION

import java.io.InputStream;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

public class DrainProducer {
    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: DrainProducer BOOTSTRAP TOPIC PARTITION");
            System.exit(2);
        }
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        props.put("key.serializer", StringSerializer.class.getName());
        props.put("value.serializer", StringSerializer.class.getName());
        int partition = Integer.parseInt(args[2]);
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
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
            producer.send(new ProducerRecord<>(args[1], partition, null, "java/0")).get();
            System.out.println("STARTED");
            System.out.flush();
            for (long n = 1; !stop.get(); n++) {
                producer.send(new ProducerRecord<>(args[1], partition, null, "java/" + n));
                Thread.sleep(100);
            }
        }
        System.out.println("CLOSED");
        System.out.flush();
    }
}
