using Fleet.Gateway.Broker;
using Fleet.Mqtt.Client;
using Fleet.Mqtt.Protocol;
using Fleet.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using static Fleet.Gateway.Tests.Broker.BrokerTestKit;

namespace Fleet.Gateway.Tests.Broker;

/// <summary>
/// The hosted sync (AddFleetBroker): registry changes reach the broker through LISTEN/NOTIFY and SIGHUP, without a
/// broker restart and without polling.
/// </summary>
public sealed class BrokerSyncServiceTests(PostgresFixture postgres)
{
    private static readonly TimeSpan FewSeconds = TimeSpan.FromSeconds(5);

    [Fact(Timeout = 90_000)]
    public async Task Adding_a_terminal_lets_it_connect_without_a_broker_restart_and_disabling_it_locks_it_out()
    {
        await using var kit = await CreateAsync(postgres);
        await kit.AddTerminalAsync("T-OLD", "old");
        var services = await kit.StartHostAsync();
        var writer = services.GetRequiredService<BrokerConfigWriter>();
        await kit.EventuallyAsync(() => Task.FromResult(writer.WriteCount > 0), FewSeconds, "the first write at start");
        var broker = await kit.StartBrokerAsync();
        var pid = broker.ProcessId;
        Assert.Null(await kit.TryConnectAsync("T-OLD", "old"));
        Assert.NotNull(await kit.TryConnectAsync("T-NEW", "new"));

        await kit.AddTerminalAsync("T-NEW", "new");
        var added = await kit.EventuallyAsync(async () => await kit.TryConnectAsync("T-NEW", "new") is null, FewSeconds, "T-NEW accepted");

        // A connection made while it was enabled, to show what disabling does to it.
        await using var connected = await kit.ConnectAsync("T-NEW", "new");
        var before = await connected.PublishAsync("fleet/v1/T-NEW/telemetry", Utf8("before"), MqttQualityOfService.AtLeastOnce, cancellationToken: Token);
        Assert.True(before.IsSuccess);

        await kit.ExecuteAsync("UPDATE terminals SET enabled = false WHERE id = $1", "T-NEW");
        var disabled = await kit.EventuallyAsync(async () => await kit.TryConnectAsync("T-NEW", "new") is not null, FewSeconds, "T-NEW refused");
        Assert.Null(await kit.TryConnectAsync("T-OLD", "old"));
        Assert.Equal(pid, broker.ProcessId);
        TestContext.Current.SendDiagnosticMessage("Registry change to broker: added in {0:F0} ms, disabled in {1:F0} ms", added.TotalMilliseconds, disabled.TotalMilliseconds);

        // Mosquitto 2.0 re-checks connected clients on reload: the disabled terminal's open connection is dropped too.
        await kit.EventuallyAsync(() => Task.FromResult(!connected.IsConnected), FewSeconds, "the disabled terminal's open connection dropped");
    }

    [Fact(Timeout = 90_000)]
    public async Task The_listener_recovers_after_its_connection_is_killed_and_still_reacts_to_changes()
    {
        await using var kit = await CreateAsync(postgres);
        var services = await kit.StartHostAsync();
        var writer = services.GetRequiredService<BrokerConfigWriter>();
        var sync = services.GetRequiredService<BrokerSyncService>();
        await kit.EventuallyAsync(() => Task.FromResult(writer.WriteCount > 0), FewSeconds, "the first write at start");
        await kit.StartBrokerAsync();

        var first = await ListenerBackendsAsync(kit);
        var killed = await kit.ExecuteScalarAsync<long>(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'");
        Assert.Equal(1, killed);

        // It reconnects, listens again and rewrites everything, since changes may have been missed meanwhile.
        await kit.EventuallyAsync(
            async () => sync.Listener.ConnectionCount == 2 && (await ListenerBackendsAsync(kit)).Except(first).Any(),
            FewSeconds,
            "a new LISTEN connection");
        await kit.EventuallyAsync(() => Task.FromResult(writer.WriteCount >= 2), FewSeconds, "the resync after the reconnect");
        var writes = writer.WriteCount;

        await kit.AddTerminalAsync("T-AFTER", "after");
        await kit.EventuallyAsync(async () => await kit.TryConnectAsync("T-AFTER", "after") is null, FewSeconds, "T-AFTER accepted");
        Assert.True(writer.WriteCount > writes, "The change arrived as a notification and was written.");
        Assert.Equal(2, sync.Listener.ConnectionCount);
    }

    [Fact(Timeout = 90_000)]
    public async Task A_burst_of_changes_becomes_a_few_rewrites_and_other_tables_cause_none()
    {
        await using var kit = await CreateAsync(postgres);
        var services = await kit.StartHostAsync();
        var writer = services.GetRequiredService<BrokerConfigWriter>();
        await kit.EventuallyAsync(() => Task.FromResult(writer.WriteCount > 0), FewSeconds, "the first write at start");
        var writes = writer.WriteCount;

        for (var i = 0; i < 50; i++)
        {
            await kit.AddTerminalAsync($"T-BURST-{i:D2}", "burst");
        }

        await kit.EventuallyAsync(() => Task.FromResult(writer.LastResult?.Terminals == 50), FewSeconds, "all 50 written");
        var burstWrites = writer.WriteCount - writes;
        TestContext.Current.SendDiagnosticMessage("50 separate inserts caused {0} rewrites", burstWrites);
        Assert.InRange(burstWrites, 1, 10);

        // Another table announcing itself on the same channel does not touch the broker's files.
        writes = writer.WriteCount;
        await kit.ExecuteAsync("SELECT pg_notify('fleet_registry', 'vehicles')");
        await Task.Delay(TimeSpan.FromMilliseconds(kit.Options.DebounceMilliseconds * 5), Token);
        Assert.Equal(writes, writer.WriteCount);
    }

    private static async Task<List<int>> ListenerBackendsAsync(BrokerTestKit kit)
    {
        await using var command = kit.Db.CreateCommand("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'");
        await using var reader = await command.ExecuteReaderAsync(Token);
        var pids = new List<int>();
        while (await reader.ReadAsync(Token))
        {
            pids.Add(reader.GetInt32(0));
        }

        return pids;
    }
}
