using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Fleet.Silo.Shards;

/// <summary>Bound from <c>Fleet:Silo</c>; validated on start (<see cref="SiloOptionsValidator"/>).</summary>
public sealed record SiloOptions
{
    public const string Section = "Fleet:Silo";

    /// <summary>Shards (single-writer loops); a vehicle's shard is <c>(ulong)vehicleId % ShardCount</c>.</summary>
    [Range(1, 4096)]
    public int ShardCount { get; init; } = 64;

    /// <summary>Queued reports per shard before <c>SubmitAsync</c> waits (backpressure).</summary>
    [Range(16, 1_000_000)]
    public int ShardQueueCapacity { get; init; } = 4096;

    /// <summary>Rows per COPY at most; also how many rows accumulate while a COPY runs before shards wait.</summary>
    [Range(1, 1_000_000)]
    public int MaxBatchRows { get; init; } = 5000;

    /// <summary>
    /// Backlog rows (historic reports, the lower-priority lane) buffered for COPY at most, over all shards; the rest of
    /// each COPY is kept for live rows. It paces a backlog upload at about this many rows per COPY cycle.
    /// </summary>
    [Range(1, 1_000_000)]
    public int BacklogRowsInFlight { get; init; } = 1000;

    /// <summary>
    /// How long rows may wait for more to join their COPY. Zero flushes as soon as no COPY is running
    /// (group commit: batches still grow under load, but latency is one COPY).
    /// </summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Longest wait between retries of a failed database write (the retries back off up to it).</summary>
    public TimeSpan StoreRetryMaxDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the sweep runs (offline, parked, midnight, idle deactivation).</summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How often changed grain states are written to <c>vehicle_state</c>. Every moving vehicle changes every report,
    /// so this is a row per vehicle per interval: at 23,000 vehicles and 5 s the upserts cost PostgreSQL two thirds of
    /// what the positions COPY does. A crash loses at most this much grain bookkeeping (today's mileage, the stop
    /// clock); positions themselves are committed before every acknowledgement.
    /// </summary>
    public TimeSpan SnapshotInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>A grain with no message for this long is deactivated (once its snapshot is stored).</summary>
    public TimeSpan IdleDeactivation { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>A terminal silent for this long is offline.</summary>
    public TimeSpan OfflineTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Faster than this (km/h) is moving; otherwise stopped.</summary>
    [Range(0.0, 300.0)]
    public double MovingSpeedKmh { get; init; } = 5;

    /// <summary>Stopped for this long is parked.</summary>
    public TimeSpan ParkedAfter { get; init; } = TimeSpan.FromMinutes(5);
}

/// <summary>Range checks on <see cref="SiloOptions"/>, including the TimeSpans that data annotations handle poorly.</summary>
public sealed class SiloOptionsValidator : IValidateOptions<SiloOptions>
{
    public ValidateOptionsResult Validate(string? name, SiloOptions options)
    {
        var failures = new List<string>();
        var context = new ValidationContext(options);
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(options, context, results, validateAllProperties: true))
        {
            failures.AddRange(results.Select(r => $"{SiloOptions.Section}: {r.ErrorMessage}"));
        }

        Check(failures, nameof(options.FlushInterval), options.FlushInterval, TimeSpan.Zero, TimeSpan.FromSeconds(10));
        Check(failures, nameof(options.StoreRetryMaxDelay), options.StoreRetryMaxDelay, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(5));
        Check(failures, nameof(options.SweepInterval), options.SweepInterval, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(10));
        Check(failures, nameof(options.SnapshotInterval), options.SnapshotInterval, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1));
        Check(failures, nameof(options.IdleDeactivation), options.IdleDeactivation, TimeSpan.FromSeconds(1), TimeSpan.FromDays(7));
        Check(failures, nameof(options.OfflineTimeout), options.OfflineTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromDays(1));
        Check(failures, nameof(options.ParkedAfter), options.ParkedAfter, TimeSpan.Zero, TimeSpan.FromDays(1));
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Check(List<string> failures, string name, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            failures.Add($"{SiloOptions.Section}:{name} must be between {min} and {max}, got {value}.");
        }
    }
}
