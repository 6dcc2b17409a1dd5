// TranslateOffsets: MirrorMaker 2's own client code reading kmirror's
// checkpoints. It calls RemoteClusterUtils.translateOffsets
// (connect-mirror-client) against the target cluster and prints the
// translated offsets of GROUP, one "<topic> <partition> <offset>" line each,
// then "END".
//
// Run in source-file mode with Kafka's jars on the class path:
//   java -cp 'JARS/*' TranslateOffsets.java TARGET_BOOTSTRAP SOURCE_ALIAS GROUP

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.connect.mirror.RemoteClusterUtils;

public class TranslateOffsets {
    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: TranslateOffsets TARGET_BOOTSTRAP SOURCE_ALIAS GROUP");
            System.exit(2);
        }
        Map<String, Object> props = new HashMap<>();
        props.put("bootstrap.servers", args[0]);
        Map<TopicPartition, OffsetAndMetadata> offsets =
            RemoteClusterUtils.translateOffsets(props, args[1], args[2], Duration.ofSeconds(60));
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offsets.entrySet()) {
            System.out.println(e.getKey().topic() + " " + e.getKey().partition() + " " + e.getValue().offset());
        }
        System.out.println("END");
    }
}
