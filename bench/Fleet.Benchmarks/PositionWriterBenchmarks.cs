using BenchmarkDotNet.Attributes;
using Fleet.Core.Telemetry;
using Fleet.Silo.Persistence;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Fleet.Benchmarks;

/// <summary>
/// The COPY batch writer against a real PostgreSQL (<c>FLEET_BENCH_DATABASE</c>): one 1,000-row binary COPY per
/// operation, reported per row. Rows go to vehicle ids no registry uses (negative) and are deleted afterwards, so a
/// developer's database keeps no trace; the time includes the round trips and the commit, as in the shard's batcher.
/// </summary>
public class PositionWriterBenchmarks
{
    public const string DatabaseVariable = "FLEET_BENCH_DATABASE";
    public const int BatchRows = 1_000;
    private const long FirstVehicleId = -1_000_000;

    private readonly PositionRow[] _rows = new PositionRow[BatchRows];
    private NpgsqlDataSource? _dataSource;
    private PositionWriter? _writer;
    private uint _seq;

    [GlobalSetup]
    public void Setup()
    {
        var connectionString = Environment.GetEnvironmentVariable(DatabaseVariable);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidOperationException($"{DatabaseVariable} is not set.");
        }

        _dataSource = NpgsqlDataSource.Create(connectionString);
        MigrationRunner.ApplyAsync(_dataSource, NullLogger.Instance, CancellationToken.None).GetAwaiter().GetResult();
        using (var partitions = _dataSource.CreateCommand("SELECT ensure_position_partitions(1)"))
        {
            partitions.ExecuteScalar();
        }

        _writer = new PositionWriter(_dataSource);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (var i = 0; i < BatchRows; i++)
        {
            var fix = Payloads.BatchFix(now, i);
            _rows[i] = new PositionRow(FirstVehicleId - (i % 100), fix, now, ReadOnlyMemory<byte>.Empty);
        }
    }

    [Benchmark(Description = "COPY batch writer, 1,000-row batch, per row", OperationsPerInvoke = BatchRows)]
    public async Task CopyBatchPerRow()
    {
        // A fresh seq per row keeps (vehicle_id, ts, seq) unique, so every batch is the plain COPY path.
        for (var i = 0; i < _rows.Length; i++)
        {
            _rows[i] = _rows[i] with { Fix = _rows[i].Fix with { Seq = ++_seq } };
        }

        var result = await _writer!.WriteAsync(_rows, CancellationToken.None);
        if (result.Inserted != BatchRows)
        {
            throw new InvalidOperationException($"Only {result.Inserted} of {BatchRows} rows were inserted.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        if (_dataSource is null)
        {
            return;
        }

        using (var delete = _dataSource.CreateCommand("DELETE FROM positions WHERE vehicle_id BETWEEN $1 AND $2"))
        {
            delete.Parameters.Add(new NpgsqlParameter { Value = FirstVehicleId - 100 });
            delete.Parameters.Add(new NpgsqlParameter { Value = FirstVehicleId });
            delete.ExecuteNonQuery();
        }

        _dataSource.Dispose();
        _dataSource = null;
    }
}
