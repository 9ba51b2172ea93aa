using Fleet.Gateway.Ingestion;
using Fleet.Mqtt.Client;
using Fleet.Silo.Shards;
using Fleet.TestSupport;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using static Fleet.Gateway.Tests.Ingestion.IngestionKit;

namespace Fleet.Gateway.Tests.Ingestion;

/// <summary>Runs on a PostgreSQL server of its own, which it stops and restarts under the gateway.</summary>
public sealed class GatewayAckAfterCommitTests
{
    private const int Terminals = 5;
    private const int HeldBackEach = 4;

    [Fact(Timeout = 60_000)]
    public async Task Reports_are_not_acknowledged_while_the_database_is_down_and_land_exactly_once_after_it_is_back()
    {
        await using var server = await PostgresServer.StartAsync(Token);
        await using (var admin = NpgsqlDataSource.Create(server.CreateConnectionStringBuilder().ConnectionString))
        {
            await using var create = admin.CreateCommand("CREATE DATABASE fleet");
            await create.ExecuteNonQueryAsync(Token);
        }

        var connectionString = server.CreateConnectionStringBuilder("fleet");
        connectionString.Timeout = 2;
        await using var db = NpgsqlDataSource.Create(connectionString.ConnectionString);
        await using var kit = await StartAsync(db, Terminals, new SiloOptions
        {
            ShardCount = 4,
            FlushInterval = TimeSpan.FromMilliseconds(5),
            StoreRetryMaxDelay = TimeSpan.FromMilliseconds(250),
        });

        // One registry for the gateways of this test: a gateway started while the database is down has none to load.
        var registry = kit.CreateRegistry();
        var first = await kit.StartGatewayAsync(registry);
        var clients = await Task.WhenAll(kit.Terminals.Select(kit.ConnectTerminalAsync));
        var now = NowMs;
        await PublishReportsAsync(kit, clients, now - 60_000, 0, 1);
        await kit.EventuallyAsync(async () => first.Health.MessagesAcknowledged == Terminals && await kit.PositionCountAsync() == Terminals, TimeSpan.FromSeconds(10), "the first reports are stored", first);

        await server.StopAsync(Token);
        await PublishReportsAsync(kit, clients, now - 60_000, 1, HeldBackEach);
        const int heldBack = Terminals * HeldBackEach;
        await kit.EventuallyAsync(() => first.Health.MessagesReceived == Terminals + heldBack, TimeSpan.FromSeconds(10), "the gateway receives the reports", first);
        await kit.EventuallyAsync(() => kit.Host.Health.Degraded, TimeSpan.FromSeconds(10), "the silo notices the outage", first);
        await Task.Delay(500, Token);

        // Received and submitted, but not committed: so not acknowledged.
        var waiting = first.Health;
        Assert.Equal(Terminals, waiting.MessagesAcknowledged);
        Assert.Equal(heldBack, waiting.InFlightMessages);
        Assert.Equal(Terminals, waiting.ReportsCommitted);
        var check = await new GatewayHealthCheck(first, kit.Host).CheckHealthAsync(new HealthCheckContext(), Token);
        Assert.Equal(HealthStatus.Degraded, check.Status);

        // The broker agrees: a gateway that dies now leaves them to the next session, which gets them again.
        await first.StopAsync(new CancellationToken(canceled: true));
        var second = await kit.StartGatewayAsync(registry);
        await kit.EventuallyAsync(() => second.Health.MessagesReceived >= heldBack, TimeSpan.FromSeconds(10), "the broker redelivers the unacknowledged reports", second);
        Assert.Equal(0, second.Health.MessagesAcknowledged);
        Log($"while down: first gateway received {waiting.MessagesReceived}, acknowledged {waiting.MessagesAcknowledged}; the broker redelivered {second.Health.MessagesReceived} to the second");

        await server.RestartAsync(Token);
        await kit.EventuallyAsync(
            async () => await kit.PositionCountAsync() == Terminals + heldBack && second.Health is { InFlightMessages: 0, MessagesAcknowledged: >= heldBack },
            TimeSpan.FromSeconds(20),
            "everything stored and acknowledged after the restart",
            second);
        Assert.Equal(Terminals + heldBack, await kit.ScalarAsync<long>("SELECT count(DISTINCT (vehicle_id, ts, seq)) FROM positions"));
        Assert.Equal(Terminals, await kit.ScalarAsync<long>($"SELECT count(*) FROM (SELECT vehicle_id FROM positions GROUP BY vehicle_id HAVING count(*) = {1 + HeldBackEach}) AS v"));
        foreach (var terminal in kit.Terminals)
        {
            Assert.Equal(now - 60_000 + (HeldBackEach * 1000), kit.Live(terminal.VehicleId).Ts);
        }

        // And it has all been acknowledged: a later session gets nothing again.
        using (var graceful = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            await second.StopAsync(graceful.Token);
        }

        var third = await kit.StartGatewayAsync(registry);
        await Task.Delay(1000, Token);
        Assert.Equal(0, third.Health.MessagesReceived);
    }

    private static async Task PublishReportsAsync(IngestionKit kit, MqttClient[] clients, long start, int fromSeq, int count)
    {
        var publishes = new List<Task>();
        for (var t = 0; t < clients.Length; t++)
        {
            for (var seq = fromSeq; seq < fromSeq + count; seq++)
            {
                publishes.Add(IngestionKit.PublishAsync(clients[t], TelemetryTopic(kit.Terminals[t].TerminalId), Report(start + (seq * 1000), (uint)seq, 40.8 + (t * 0.01), 111.7)));
            }
        }

        await Task.WhenAll(publishes);
    }
}
