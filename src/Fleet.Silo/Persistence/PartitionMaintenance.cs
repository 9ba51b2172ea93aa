using Npgsql;

namespace Fleet.Silo.Persistence;

/// <summary>
/// Keeps the daily partitions of positions (UTC days): created ahead of time, created late for days whose rows landed in
/// positions_default, and dropped past the retention. Meant to be called periodically by a hosted service, e.g. hourly.
/// Every call is one transaction under one advisory lock shared by all of them (see migrations 0001 and 0005).
/// </summary>
public static class PartitionMaintenance
{
    public const int MinRetentionDays = 1;
    public const int MaxRetentionDays = 3650;

    /// <summary>Creates the missing partitions for today .. today + <paramref name="daysAhead"/>; returns how many it created.</summary>
    public static async Task<int> EnsurePositionPartitionsAsync(NpgsqlDataSource dataSource, int daysAhead, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(daysAhead);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(daysAhead, 366);
        await using var command = dataSource.CreateCommand("SELECT ensure_position_partitions($1)");
        command.Parameters.Add(new NpgsqlParameter { Value = daysAhead });
        return (int)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Creates the partition of one UTC day, moving its rows out of positions_default; false when it existed.</summary>
    public static async Task<bool> EnsurePositionPartitionForAsync(NpgsqlDataSource dataSource, DateOnly day, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT ensure_position_partition_for($1)");
        command.Parameters.Add(new NpgsqlParameter { Value = day });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>
    /// Creates the partitions of the days that have rows in positions_default and are within the retention, moving
    /// the rows there; returns the partitions created, oldest first.
    /// </summary>
    public static Task<string[]> AdoptDefaultPositionDaysAsync(NpgsqlDataSource dataSource, int retentionDays, CancellationToken cancellationToken) =>
        CallWithRetentionAsync(dataSource, "SELECT adopt_default_position_days($1)", retentionDays, cancellationToken);

    /// <summary>
    /// Detaches and drops the daily partitions whose whole day is older than <paramref name="retentionDays"/>; returns
    /// their names, oldest first. Never touches positions_default.
    /// </summary>
    public static Task<string[]> DropExpiredPositionPartitionsAsync(NpgsqlDataSource dataSource, int retentionDays, CancellationToken cancellationToken) =>
        CallWithRetentionAsync(dataSource, "SELECT drop_position_partitions($1)", retentionDays, cancellationToken);

    private static async Task<string[]> CallWithRetentionAsync(NpgsqlDataSource dataSource, string sql, int retentionDays, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(retentionDays, MinRetentionDays);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(retentionDays, MaxRetentionDays);
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter { Value = retentionDays });
        return (string[])(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
