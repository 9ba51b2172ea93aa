using Npgsql;

namespace Fleet.Silo.Persistence;

/// <summary>
/// Keeps the daily partitions of positions created ahead of time (UTC days). Meant to be called periodically by
/// a hosted service, e.g. hourly; rows that arrive for a day without a partition land in positions_default and
/// are moved when that day's partition is created.
/// </summary>
public static class PartitionMaintenance
{
    /// <summary>Creates the missing partitions for today .. today + <paramref name="daysAhead"/>; returns how many it created.</summary>
    public static async Task<int> EnsurePositionPartitionsAsync(NpgsqlDataSource dataSource, int daysAhead, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(daysAhead);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(daysAhead, 366);
        await using var command = dataSource.CreateCommand("SELECT ensure_position_partitions($1)");
        command.Parameters.Add(new NpgsqlParameter { Value = daysAhead });
        return (int)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
