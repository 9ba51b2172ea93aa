using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Fleet.Gateway.Ingestion;

/// <summary>
/// The ingestion pipeline's settings, bound from <c>Fleet:Gateway</c> and validated on start
/// (<see cref="GatewayOptionsValidator"/>). Broker address and credentials, client id included, are
/// <see cref="MqttConnectionOptions"/> (<c>Fleet:Mqtt</c>).
/// </summary>
public sealed record GatewayOptions
{
    public const string Section = "Fleet:Gateway";

    /// <summary>
    /// MQTT 5 Receive Maximum: unacknowledged messages the broker may have out to us. Acks wait for the commit, so this
    /// must cover rate × commit latency; Mosquitto's <c>max_inflight_messages</c> has to be at least as large.
    /// </summary>
    [Range(1, 65535)]
    public int ReceiveMaximum { get; init; } = 20_000;

    /// <summary>Most messages the client packs into one received batch (one submission, one ack write).</summary>
    [Range(1, 65535)]
    public int MaxBatchMessages { get; init; } = 1024;

    /// <summary>Batches parsed and submitted but not yet acknowledged; beyond this the receive loop waits.</summary>
    [Range(1, 1024)]
    public int MaxInFlightBatches { get; init; } = 32;

    /// <summary>
    /// A telemetry array holding a report older than this is historic (a terminal's store-and-forward upload) and
    /// takes the backlog lane: stored and evaluated in order for its vehicle, after live reports, acknowledged on its own.
    /// Single reports always stay live (after a gateway restart the broker's queue is full of old single reports).
    /// </summary>
    public TimeSpan HistoricAge { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Historic messages submitted and not yet acknowledged; beyond this the receive loop waits (bounds memory).</summary>
    [Range(1, 100_000)]
    public int MaxBacklogMessages { get; init; } = 256;

    /// <summary>How long the broker keeps our session (and queues for us) while the gateway is away.</summary>
    public TimeSpan SessionExpiry { get; init; } = TimeSpan.FromDays(1);

    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Largest MQTT packet accepted. Larger than the protocol's 64 KiB payload limit on purpose: an oversized payload
    /// must reach us to be recorded as a reject, whereas the broker silently drops what exceeds this.
    /// </summary>
    [Range(70 * 1024, 64 * 1024 * 1024)]
    public int MaxPacketBytes { get; init; } = 1024 * 1024;

    /// <summary>Recent (ts, seq) keys remembered per vehicle to drop duplicates before they reach the shards.</summary>
    [Range(1, 4096)]
    public int DuplicateWindow { get; init; } = 32;

    /// <summary>Rejects older than this are deleted.</summary>
    [Range(1, 3650)]
    public int RejectRetentionDays { get; init; } = 30;

    /// <summary>At most this many reject rows are kept; the oldest beyond it are deleted.</summary>
    [Range(typeof(long), "1000", "9223372036854775807")]
    public long RejectRowsMax { get; init; } = 1_000_000;

    public TimeSpan RejectPruneInterval { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Distinct terminals whose rejects are counted individually; the rest share one counter (bounds memory under a flood of unknown ids).</summary>
    [Range(1, 1_000_000)]
    public int MaxRejectCounterTerminals { get; init; } = 10_000;

    /// <summary>First delay after a failed connect, session or reject write; doubles up to <see cref="RetryMaxDelay"/>.</summary>
    public TimeSpan RetryMinDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>Range checks on <see cref="GatewayOptions"/>, including the TimeSpans that data annotations handle poorly.</summary>
public sealed class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true))
        {
            foreach (var result in results)
            {
                failures.Add($"{GatewayOptions.Section}: {result.ErrorMessage}");
            }
        }

        Check(failures, nameof(options.SessionExpiry), options.SessionExpiry, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(uint.MaxValue - 1));
        Check(failures, nameof(options.HistoricAge), options.HistoricAge, TimeSpan.FromSeconds(1), TimeSpan.FromDays(30));
        Check(failures, nameof(options.KeepAlive), options.KeepAlive, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(ushort.MaxValue));
        Check(failures, nameof(options.RejectPruneInterval), options.RejectPruneInterval, TimeSpan.FromSeconds(1), TimeSpan.FromDays(7));
        Check(failures, nameof(options.RetryMinDelay), options.RetryMinDelay, TimeSpan.FromMilliseconds(1), TimeSpan.FromMinutes(1));
        Check(failures, nameof(options.RetryMaxDelay), options.RetryMaxDelay, options.RetryMinDelay, TimeSpan.FromMinutes(10));
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Check(List<string> failures, string name, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            failures.Add($"{GatewayOptions.Section}:{name} must be between {min} and {max}, got {value}.");
        }
    }
}
