using System.Text;
using Fleet.Core.Telemetry;
using Fleet.TestSupport;
using static Fleet.Gateway.Tests.Ingestion.IngestionKit;

namespace Fleet.Gateway.Tests.Ingestion;

/// <summary>Store-and-forward backlogs and the retained status topic.</summary>
public sealed class GatewayBacklogAndStatusTests(PostgresFixture postgres)
{
    [Fact(Timeout = 60_000)]
    public async Task A_backlog_of_a_thousand_older_reports_is_stored_whole_and_the_live_state_keeps_the_newer_fix()
    {
        await using var kit = await StartAsync(await postgres.CreateDatabaseAsync(cancellationToken: Token), 1);
        var gateway = await kit.StartGatewayAsync();
        var terminal = kit.Terminals[0];
        var client = await kit.ConnectTerminalAsync(terminal);
        var now = NowMs;

        var liveTs = now - 10_000;
        await PublishAsync(client, TelemetryTopic(terminal.TerminalId), Report(liveTs, 5000, lat: 40.9, lon: 111.8, spd: 20));
        await kit.EventuallyAsync(() => gateway.Health.ReportsCommitted == 1, TimeSpan.FromSeconds(10), "the live fix is committed", gateway);

        // Two hours offline, one report every 5 s, forwarded in one array once back in coverage.
        var backlog = new StringBuilder("[");
        for (var i = 0; i < 1000; i++)
        {
            backlog.Append(i == 0 ? "" : ",").Append(Report(now - 7_200_000 + (i * 5_000), (uint)(4000 + i), 40.8 + (i * 0.00001), 111.7));
        }

        var payload = backlog.Append(']').ToString();
        Assert.InRange(Encoding.UTF8.GetByteCount(payload), 50_000, TelemetryLimits.Default.MaxPayloadBytes);
        await PublishAsync(client, TelemetryTopic(terminal.TerminalId), payload);
        await kit.EventuallyAsync(() => gateway.Health is { ReportsCommitted: 1001, InFlightMessages: 0 }, TimeSpan.FromSeconds(10), "the backlog is committed", gateway);

        Assert.Equal(1001, await kit.PositionCountAsync());
        Assert.Equal(1000, await kit.ScalarAsync<long>("SELECT count(*) FROM positions WHERE seq BETWEEN 4000 AND 4999"));
        var live = kit.Live(terminal.VehicleId);
        Assert.Equal(liveTs, live.Ts);
        Assert.Equal(40.9, live.Lat, 6);
        Assert.Equal(0, gateway.Health.ReportsRejected);
    }

    [Fact(Timeout = 60_000)]
    public async Task Offline_on_the_status_topic_takes_the_vehicle_offline_and_online_brings_it_back()
    {
        await using var kit = await StartAsync(await postgres.CreateDatabaseAsync(cancellationToken: Token), 1);
        var gateway = await kit.StartGatewayAsync();
        var terminal = kit.Terminals[0];
        var client = await kit.ConnectTerminalAsync(terminal);

        await PublishAsync(client, TelemetryTopic(terminal.TerminalId), Report(NowMs - 1000, 1, spd: 10));
        await kit.EventuallyAsync(() => kit.Host.TryGetLiveState(terminal.VehicleId, out var s) && s.Online, TimeSpan.FromSeconds(10), "the vehicle is online after a report", gateway);

        await PublishAsync(client, StatusTopic(terminal.TerminalId), "offline", retain: true);
        await kit.EventuallyAsync(() => !kit.Live(terminal.VehicleId).Online, TimeSpan.FromSeconds(10), "offline takes the vehicle offline", gateway);

        await PublishAsync(client, StatusTopic(terminal.TerminalId), "online", retain: true);
        await kit.EventuallyAsync(() => kit.Live(terminal.VehicleId).Online, TimeSpan.FromSeconds(10), "online brings it back", gateway);
        await kit.EventuallyAsync(() => gateway.Health is { StatusUpdates: 2, MessagesAcknowledged: 3 }, TimeSpan.FromSeconds(10), "both statuses acknowledged", gateway);
        Assert.Equal(0, gateway.Health.ReportsRejected);
    }
}
