package dev.gameday;

import java.util.ArrayList;
import java.util.List;

import org.codelibs.opensearch.runner.OpenSearchRunner;

/**
 * Starts OpenSearch nodes in this JVM with explicit ports on loopback.
 *
 * The runner's own main swallows start-up errors and always starts 3 nodes;
 * this one prints the cause and exits non-zero, so the supervisor sees it.
 *
 * Usage: GamedayOpenSearch BASE_DIR NODES HTTP_PORT TRANSPORT_PORT CLUSTER_NAME
 * Node i (0-based) listens on HTTP_PORT+i and TRANSPORT_PORT+i.
 */
public final class GamedayOpenSearch {
    private GamedayOpenSearch() {
    }

    public static void main(final String[] args) throws Exception {
        if (args.length != 5) {
            System.err.println("usage: GamedayOpenSearch BASE_DIR NODES HTTP_PORT TRANSPORT_PORT CLUSTER");
            System.exit(2);
        }
        final String baseDir = args[0];
        final int nodes = Integer.parseInt(args[1]);
        final int httpPort = Integer.parseInt(args[2]);
        final int transportPort = Integer.parseInt(args[3]);
        final String cluster = args[4];

        final List<String> seeds = new ArrayList<>();
        for (int i = 0; i < nodes; i++) {
            seeds.add("127.0.0.1:" + (transportPort + i));
        }

        final OpenSearchRunner runner = new OpenSearchRunner();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                runner.close();
            } catch (final Exception e) {
                e.printStackTrace();
            }
        }));
        try {
            runner.onBuild((number, settings) -> {
                final int i = number - 1; // the runner numbers nodes from 1
                settings.put("node.name", "node-" + i);
                settings.put("network.host", "127.0.0.1");
                settings.put("http.port", String.valueOf(httpPort + i));
                settings.put("transport.port", String.valueOf(transportPort + i));
                settings.put("action.auto_create_index", "true");
                // Single-node mode skips the production bootstrap checks; a 3-node
                // cluster in one JVM is bootstrapped by node-0 and joined by the rest.
                if (nodes == 1) {
                    settings.put("discovery.type", "single-node");
                } else {
                    settings.putList("discovery.seed_hosts", seeds);
                    settings.putList("cluster.initial_cluster_manager_nodes", "node-0");
                }
                settings.put("cluster.routing.allocation.disk.threshold_enabled", "false");
            }).build(OpenSearchRunner.newConfigs()
                    .basePath(baseDir)
                    .numOfNode(nodes)
                    .clusterName(cluster)
                    .printOnFailure());
        } catch (final Throwable t) {
            System.err.println("OpenSearch failed to start: " + t);
            t.printStackTrace();
            Runtime.getRuntime().halt(1);
        }
        System.out.println("gameday: " + nodes + " OpenSearch node(s) started");
        while (!runner.isClosed()) {
            Thread.sleep(1000);
        }
    }
}
