using Fleet.Gateway.Ingestion;
using Fleet.Mqtt.Client;
using Fleet.Mqtt.Protocol;
using Fleet.Silo.Shards;
using Fleet.TestSupport;
using static Fleet.Gateway.Tests.Ingestion.IngestionKit;

namespace Fleet.Gateway.Tests.Ingestion;

/// <summary>A gateway killed mid-stream: its successor on the same session gets the unacknowledged rest again.</summary>
public sealed class GatewayRedeliveryTests(PostgresFixture postgres)
{
    private const int Terminals = 10;
    private const int ReportsEach = 100;

    [Fact(Timeout = 60_000)]
    public async Task A_gateway_killed_mid_stream_leaves_nothing_lost_and_nothing_stored_twice()
    {
        // Slow commits and small batches keep many batches in flight, so the kill catches some unacknowledged.
        await using var kit = await StartAsync(
            await postgres.CreateDatabaseAsync(cancellationToken: Token),
            Terminals,
            new SiloOptions { ShardCount = 4, FlushInterval = TimeSpan.FromMilliseconds(150), MaxBatchRows = 100 });
        var options = new GatewayOptions { MaxBatchMessages = 20, RetryMinDelay = TimeSpan.FromMilliseconds(50), RetryMaxDelay = TimeSpan.FromMilliseconds(500) };
        var first = await kit.StartGatewayAsync(options: options);
        var clients = await Task.WhenAll(kit.Terminals.Select(kit.ConnectTerminalAsync));

        var start = NowMs - 300_000;
        var publishing = Task.WhenAll(kit.Terminals.Select((terminal, t) => PublishAllAsync(clients[t], terminal.TerminalId, start, t)));
        await kit.EventuallyAsync(
            () => first.Health is { MessagesAcknowledged: >= 100, InFlightMessages: > 0 },
            TimeSpan.FromSeconds(20),
            "the first gateway is mid-stream: some batches acknowledged, others waiting for their commit",
            first);
        await first.StopAsync(new CancellationToken(canceled: true));
        var killed = first.Health;

        var second = await kit.StartGatewayAsync(options: options);
        await publishing;
        const int total = Terminals * ReportsEach;
        await kit.EventuallyAsync(
            async () => await kit.PositionCountAsync() == total && second.Health is { InFlightMessages: 0, MessagesReceived: > 0 } health && health.MessagesAcknowledged == health.MessagesReceived,
            TimeSpan.FromSeconds(30),
            "every report stored and the second gateway idle",
            second);

        // The first gateway's abandoned submissions still commit, so what the broker redelivers is stored twice over:
        // the positions key keeps one copy.
        var after = second.Health;
        var deliveredTwice = killed.MessagesReceived + after.MessagesReceived - total;
        Log($"killed with {killed.MessagesReceived} received and {killed.MessagesAcknowledged} acknowledged; the second gateway received {after.MessagesReceived}, " +
            $"{deliveredTwice} of them delivered to both; stored {await kit.PositionCountAsync()}");

        Assert.Equal(total, await kit.ScalarAsync<long>("SELECT count(DISTINCT (vehicle_id, ts, seq)) FROM positions"));
        Assert.Equal(Terminals, await kit.ScalarAsync<long>($"SELECT count(*) FROM (SELECT vehicle_id FROM positions GROUP BY vehicle_id HAVING count(*) = {ReportsEach}) AS v"));
        Assert.True(killed.MessagesReceived > killed.MessagesAcknowledged, "the kill left received messages unacknowledged");
        Assert.True(after.MessagesReceived >= total - killed.MessagesAcknowledged, "everything the first gateway did not acknowledge reached the second");
        Assert.True(deliveredTwice > 0);
        foreach (var terminal in kit.Terminals)
        {
            Assert.Equal(start + ((ReportsEach - 1) * 1000), kit.Live(terminal.VehicleId).Ts);
        }
    }

    private static async Task PublishAllAsync(MqttClient client, string terminalId, long start, int t)
    {
        var topic = TelemetryTopic(terminalId);
        for (var seq = 0; seq < ReportsEach; seq++)
        {
            var result = await client.PublishAsync(topic, Utf8(Report(start + (seq * 1000), (uint)seq, 40.8 + (t * 0.01), 111.7 + (seq * 0.0001), spd: 40)), MqttQualityOfService.AtLeastOnce, cancellationToken: Token);
            Assert.True(result.IsSuccess, result.ReasonName);
            if (seq % 10 == 9)
            {
                // A steady stream rather than one burst, so the kill lands mid-stream.
                await Task.Delay(20, Token);
            }
        }
    }
}
