using Fleet.Silo.Persistence;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Fleet.Gateway.Broker;

/// <summary>
/// Keeps the broker's password and ACL files in step with the terminals table: writes them once the registry
/// listener is connected, then after every burst of changes announced on <c>fleet_registry</c> (migration 0003), and
/// again after each reconnect, since notices sent meanwhile are lost. Mosquitto reloads on SIGHUP without a restart,
/// and on reload it also drops connected clients whose credentials no longer hold, so disabling a terminal ends its
/// open connection too.
/// </summary>
public sealed class BrokerSyncService : BackgroundService
{
    /// <summary>The payload migration 0003 sends for the terminals table.</summary>
    public const string TerminalsPayload = "terminals";

    private readonly BrokerConfigWriter _writer;

    public BrokerSyncService(
        BrokerConfigWriter writer,
        NpgsqlDataSource dataSource,
        IOptions<BrokerOptions> options,
        ILogger<PostgresNotificationListener> listenerLogger,
        TimeProvider timeProvider)
    {
        _writer = writer;
        var debounce = TimeSpan.FromMilliseconds(options.Value.DebounceMilliseconds);
        Listener = new PostgresNotificationListener(
            dataSource,
            PostgresNotificationListener.RegistryChannel,
            listenerLogger,
            timeProvider,
            new PostgresNotificationListenerOptions
            {
                Debounce = debounce,
                MaxDelay = debounce * 10,
            });
    }

    /// <summary>The registry listener, for health checks and tests.</summary>
    public PostgresNotificationListener Listener { get; }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Listener.RunAsync(
            async (batch, cancellationToken) =>
            {
                // The channel carries every registry table; only terminals shape the broker's files.
                if (batch.Resync || batch.Payloads.Contains(TerminalsPayload))
                {
                    await _writer.WriteAsync(cancellationToken);
                }
            },
            stoppingToken);
}
