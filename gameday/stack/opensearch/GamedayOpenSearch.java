package dev.gameday;

import java.util.Arrays;

import org.codelibs.opensearch.runner.OpenSearchRunner;

/**
 * Starts ONE OpenSearch node in this JVM, with the settings it is given.
 *
 * The runner's own main swallows start-up errors and always starts 3 nodes;
 * this one prints the cause and exits non-zero, so the supervisor sees it.
 * A cluster of N nodes is N of these processes (gameday.stack.opensearch).
 *
 * Usage: GamedayOpenSearch BASE_DIR CLUSTER_NAME KEY=VALUE...
 * A value with commas is a list setting (discovery.seed_hosts=a:1,b:2).
 */
public final class GamedayOpenSearch {
    private GamedayOpenSearch() {
    }

    public static void main(final String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: GamedayOpenSearch BASE_DIR CLUSTER KEY=VALUE...");
            System.exit(2);
        }
        final String baseDir = args[0];
        final String cluster = args[1];
        final String[] settingArgs = Arrays.copyOfRange(args, 2, args.length);
        for (final String setting : settingArgs) {
            if (setting.indexOf('=') < 1) {
                System.err.println("not a KEY=VALUE setting: " + setting);
                System.exit(2);
            }
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
                for (final String setting : settingArgs) {
                    final int eq = setting.indexOf('=');
                    final String key = setting.substring(0, eq);
                    final String value = setting.substring(eq + 1);
                    if (value.indexOf(',') >= 0) {
                        settings.putList(key, value.split(","));
                    } else {
                        settings.put(key, value);
                    }
                }
            }).build(OpenSearchRunner.newConfigs()
                    .basePath(baseDir)
                    .numOfNode(1)
                    .clusterName(cluster)
                    .printOnFailure());
        } catch (final Throwable t) {
            System.err.println("OpenSearch failed to start: " + t);
            t.printStackTrace();
            Runtime.getRuntime().halt(1);
        }
        System.out.println("gameday: OpenSearch node started");
        while (!runner.isClosed()) {
            Thread.sleep(1000);
        }
    }
}
