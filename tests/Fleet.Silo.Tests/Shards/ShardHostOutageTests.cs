using Fleet.Silo.Persistence;
using Fleet.Silo.Shards;
using Fleet.Silo.Tests.Persistence;
using Fleet.TestSupport;
using Npgsql;
using static Fleet.Silo.Tests.Shards.ShardKit;

namespace Fleet.Silo.Tests.Shards;

/// <summary>Runs on a PostgreSQL server of its own, which it stops and restarts under the shard host.</summary>
public sealed class ShardHostOutageTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 60_000)]
    public async Task Commits_are_held_back_while_the_database_is_down_and_complete_once_it_is_back()
    {
        await using var server = await PostgresServer.StartAsync(Ct);
        await using (var admin = NpgsqlDataSource.Create(server.CreateConnectionStringBuilder().ConnectionString))
        {
            await using var create = admin.CreateCommand("CREATE DATABASE fleet");
            await create.ExecuteNonQueryAsync(Ct);
        }

        var connectionString = server.CreateConnectionStringBuilder("fleet");
        connectionString.Timeout = 2;
        await using var db = NpgsqlDataSource.Create(connectionString.ConnectionString);
        await MigrationRunner.ApplyAsync(db, new RecordingLogger(), Ct);
        await using var host = CreateHost(db, new SiloOptions
        {
            ShardCount = 4,
            ShardQueueCapacity = 16,
            MaxBatchRows = 50,
            FlushInterval = TimeSpan.FromMilliseconds(10),
            StoreRetryMaxDelay = TimeSpan.FromMilliseconds(250),
        });
        await host.StartAsync(Ct);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        InboundReport[] Batch(int from, int vehicles, int count = 50) =>
            [.. Enumerable.Range(from, count).Select(i => Report((i % vehicles) + 1, Fix(now - 100_000 + (i * 100), (uint)i, 40.8, 111.7, spd: 20), now))];

        await host.SubmitAndCommitAsync(Batch(0, 5));
        Assert.False(host.Health.Degraded);

        await server.StopAsync(Ct);
        var heldBack = await host.SubmitAsync(Batch(50, 5), Ct);
        var needsActivation = await host.SubmitAsync(new[] { Report(6, Fix(now, 1, 40.8, 111.7), now) }, Ct);

        // More than the queues and both batch buffers hold: SubmitAsync itself waits (backpressure), nothing is dropped.
        var flood = host.SubmitAsync(Batch(100, 5, 1000), Ct).AsTask();
        await Task.Delay(1500, Ct);
        Assert.False(flood.IsCompleted);

        Assert.False(heldBack.IsCompleted);
        Assert.False(needsActivation.IsCompleted);
        var degraded = host.Health;
        Assert.True(degraded.Degraded);
        Assert.NotNull(degraded.LastError);
        Assert.True(degraded.PendingRows > 0); // The shard waiting to activate vehicle 6 may still hold some of the rows.

        await server.RestartAsync(Ct);
        await heldBack.WaitAsync(TimeSpan.FromSeconds(20), Ct);
        await needsActivation.WaitAsync(TimeSpan.FromSeconds(20), Ct);
        await (await flood).WaitAsync(TimeSpan.FromSeconds(20), Ct);
        Assert.Equal(1101L, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM positions"));

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (host.Health.Degraded && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, Ct);
        }

        Assert.False(host.Health.Degraded, host.Health.LastError);
        Assert.Equal(now - 100_000 + (1099 * 100), host.Live(5).Ts);
    }
}
