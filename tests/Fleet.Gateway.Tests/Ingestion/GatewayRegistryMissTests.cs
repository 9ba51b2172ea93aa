using System.Diagnostics;
using Fleet.Gateway.Ingestion;
using Fleet.Silo.Persistence;
using Fleet.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using static Fleet.Gateway.Tests.Ingestion.IngestionKit;

namespace Fleet.Gateway.Tests.Ingestion;

/// <summary>
/// The broker may admit a terminal before the gateway's registry notice is acted on: a miss reloads the registry
/// (coalesced, at most once a second) before anything is rejected.
/// </summary>
public sealed class GatewayRegistryMissTests(PostgresFixture postgres)
{
    [Fact(Timeout = 90_000)]
    public async Task A_terminal_added_or_re_enabled_just_before_it_reports_is_stored_and_unknown_ids_cost_at_most_one_reload_a_second()
    {
        await using var kit = await StartAsync(await postgres.CreateDatabaseAsync(cancellationToken: Token), 2);
        var (retired, moved) = (kit.Terminals[0], kit.Terminals[1]);
        await kit.ExecuteAsync("UPDATE terminals SET enabled = false WHERE id = $1", retired.TerminalId);
        await kit.ExecuteAsync("UPDATE terminals SET vehicle_id = NULL WHERE id = $1", moved.TerminalId);

        // The notices arrive but are acted on only after 30 s, so the gateway can learn of the changes only by missing.
        var registry = new TerminalRegistry(
            kit.Db,
            TimeProvider.System,
            NullLogger<TerminalRegistry>.Instance,
            new PostgresNotificationListenerOptions { Debounce = TimeSpan.FromSeconds(30), MaxDelay = TimeSpan.FromSeconds(60) });
        var gateway = await kit.StartGatewayAsync(registry);
        Assert.True(registry.TryGet(retired.TerminalId, out var before) && !before.Enabled);
        Assert.False(registry.TryGet("T-NEW", out _));

        // A new terminal fitted to the freed vehicle, and the retired one back in service, report at once.
        await kit.ExecuteAsync("INSERT INTO terminals (id, vehicle_id, credential_hash) VALUES ('T-NEW', $1, 'unused')", moved.VehicleId);
        await kit.ExecuteAsync("UPDATE terminals SET enabled = true WHERE id = $1", retired.TerminalId);
        await using var simulator = await kit.ConnectSimulatorAsync();
        var now = NowMs;
        await PublishAsync(simulator, TelemetryTopic("T-NEW"), Report(now, 1));
        await PublishAsync(simulator, TelemetryTopic(retired.TerminalId), Report(now, 2));
        await kit.EventuallyAsync(() => gateway.Health.MessagesAcknowledged == 2, TimeSpan.FromSeconds(10), "both reports acknowledged", gateway);
        Assert.Equal(0, gateway.Health.ReportsRejected);
        Assert.Equal(2, await kit.PositionCountAsync());

        // A flood of ids nobody registered is still refused, and the database sees about one reload a second for it.
        var loads = registry.LoadCount;
        var stopwatch = Stopwatch.StartNew();
        const int Ghosts = 200;
        for (var i = 0; i < Ghosts; i++)
        {
            await PublishAsync(simulator, TelemetryTopic($"GHOST-{i % 7}"), Report(now, (uint)i));
        }

        await kit.EventuallyAsync(() => gateway.Health.MessagesAcknowledged == 2 + Ghosts, TimeSpan.FromSeconds(45), "the flood acknowledged", gateway);
        var reloads = registry.LoadCount - loads;
        Log($"{reloads} reloads for {Ghosts} unknown-id messages in {stopwatch.ElapsedMilliseconds} ms");
        Assert.InRange(reloads, 1, (long)stopwatch.Elapsed.TotalSeconds + 1);
        Assert.Equal(Ghosts, gateway.Health.ReportsRejected);
        Assert.Equal(Ghosts, await kit.ScalarAsync<long>("SELECT count(*) FROM telemetry_rejects WHERE reason = 'UnknownTerminal'"));
        Assert.Equal(2, await kit.PositionCountAsync());
    }
}
