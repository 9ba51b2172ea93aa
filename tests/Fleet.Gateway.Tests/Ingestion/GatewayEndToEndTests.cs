using System.Diagnostics;
using Fleet.Mqtt.Client;
using Fleet.Mqtt.Protocol;
using Fleet.TestSupport;
using static Fleet.Gateway.Tests.Ingestion.IngestionKit;

namespace Fleet.Gateway.Tests.Ingestion;

/// <summary>Terminals → Mosquitto → gateway → shard host → PostgreSQL, with each terminal on its own connection and credentials.</summary>
public sealed class GatewayEndToEndTests(PostgresFixture postgres)
{
    private const int Terminals = 50;
    private const int ReportsEach = 20;

    [Fact(Timeout = 60_000)]
    public async Task Every_report_of_fifty_terminals_is_stored_exactly_once_and_the_live_state_holds_each_vehicles_newest_fix()
    {
        await using var kit = await StartAsync(await postgres.CreateDatabaseAsync(cancellationToken: Token), Terminals);
        var gateway = await kit.StartGatewayAsync();
        var clients = await Task.WhenAll(kit.Terminals.Select(kit.ConnectTerminalAsync));

        // Each terminal sends its reports, then repeats its last one, as a terminal that missed a PUBACK would.
        var start = NowMs - 60_000;
        var stopwatch = Stopwatch.StartNew();
        await Task.WhenAll(kit.Terminals.Select((terminal, t) => PublishAllAsync(clients[t], terminal.TerminalId, start, t)));
        var published = stopwatch.Elapsed;
        const int messages = Terminals * (ReportsEach + 1);
        await kit.EventuallyAsync(() => gateway.Health.MessagesAcknowledged == messages, TimeSpan.FromSeconds(30), $"{messages} messages acknowledged", gateway);
        var acknowledged = stopwatch.Elapsed;

        var health = gateway.Health;
        var stored = await kit.PositionCountAsync();
        Log($"sent {messages} messages ({Terminals * ReportsEach} distinct reports) in {published.TotalMilliseconds:F0} ms; all acknowledged after {acknowledged.TotalMilliseconds:F0} ms " +
            $"({messages / acknowledged.TotalSeconds:F0} msg/s end to end); stored {stored}; duplicates dropped {health.ReportsDuplicate}; rejected {health.ReportsRejected}");

        Assert.Equal(Terminals * ReportsEach, stored);
        Assert.Equal(stored, await kit.ScalarAsync<long>("SELECT count(DISTINCT (vehicle_id, ts, seq)) FROM positions"));
        Assert.Equal(Terminals, await kit.ScalarAsync<long>($"SELECT count(*) FROM (SELECT vehicle_id FROM positions GROUP BY vehicle_id HAVING count(*) = {ReportsEach}) AS v"));
        Assert.Equal(Terminals, health.ReportsDuplicate);
        Assert.Equal(0, health.ReportsRejected);
        Assert.Equal(Terminals * ReportsEach, health.ReportsCommitted);
        Assert.Equal(0, health.InFlightMessages);

        for (var t = 0; t < Terminals; t++)
        {
            var live = kit.Live(kit.Terminals[t].VehicleId);
            Assert.Equal(start + ((ReportsEach - 1) * 1000), live.Ts);
            Assert.Equal(Lat(t, ReportsEach - 1), live.Lat, 5);
            Assert.True(live.Online);
        }
    }

    private static async Task PublishAllAsync(MqttClient client, string terminalId, long start, int t)
    {
        var topic = TelemetryTopic(terminalId);
        var pending = new List<Task<MqttPublishResult>>();
        for (var i = 0; i <= ReportsEach; i++)
        {
            var seq = Math.Min(i, ReportsEach - 1);
            var payload = Utf8(Report(start + (seq * 1000), (uint)seq, Lat(t, seq), 111.75, spd: 30));
            pending.Add(client.PublishAsync(topic, payload, MqttQualityOfService.AtLeastOnce, cancellationToken: Token).AsTask());
        }

        foreach (var result in await Task.WhenAll(pending))
        {
            Assert.True(result.IsSuccess, result.ReasonName);
        }
    }

    private static double Lat(int terminal, int seq) => 40.8 + (terminal * 0.001) + (seq * 0.0001);
}
