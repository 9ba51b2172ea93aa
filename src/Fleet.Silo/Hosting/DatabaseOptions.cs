using System.ComponentModel.DataAnnotations;

namespace Fleet.Silo.Hosting;

/// <summary>Bound from <c>Fleet:Database</c>; validated when the host starts, so a missing setting fails fast.</summary>
public sealed class DatabaseOptions
{
    public const string Section = "Fleet:Database";

    [Required(ErrorMessage = "Fleet:Database:ConnectionString is not set. Set it in appsettings.json or as the environment variable Fleet__Database__ConnectionString (./fleet up does this).")]
    public string ConnectionString { get; set; } = "";

    /// <summary>How long start-up keeps retrying when PostgreSQL is not reachable yet (it may still be starting).</summary>
    [Range(0, 600)]
    public int StartupRetrySeconds { get; set; } = 30;

    /// <summary>Daily position partitions kept created ahead of today.</summary>
    [Range(1, 366)]
    public int PartitionDaysAhead { get; set; } = 7;

    /// <summary>
    /// Days of positions kept: a daily partition is dropped once its whole day is older than this. Keep it above the
    /// gateway's 30-day limit on report age, or accepted late reports fall outside every kept day.
    /// </summary>
    [Range(Persistence.PartitionMaintenance.MinRetentionDays, Persistence.PartitionMaintenance.MaxRetentionDays)]
    public int RetentionDays { get; set; } = 400;
}
