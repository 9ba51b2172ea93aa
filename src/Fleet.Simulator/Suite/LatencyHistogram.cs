namespace Fleet.Simulator.Suite;

/// <summary>
/// Latencies in 1 ms buckets up to a minute (beyond that, one overflow bucket and the exact max). Fixed memory
/// whatever the sample count (a 5-minute run at 23k/s gives ~7M samples). Written by one thread at a time.
/// </summary>
public sealed class LatencyHistogram
{
    private const int Buckets = 60_000;
    private readonly long[] _counts = new long[Buckets + 1];
    private long _max;

    public long Count { get; private set; }

    public void Record(long milliseconds)
    {
        var ms = Math.Max(0, milliseconds);
        _counts[Math.Min(ms, Buckets)]++;
        Count++;
        if (ms > _max)
        {
            _max = ms;
        }
    }

    /// <summary>The smallest latency that <paramref name="fraction"/> of the samples do not exceed; 0 with no samples.</summary>
    public long Percentile(double fraction)
    {
        if (Count == 0)
        {
            return 0;
        }

        var rank = (long)Math.Ceiling(fraction * Count);
        long seen = 0;
        for (var ms = 0; ms <= Buckets; ms++)
        {
            seen += _counts[ms];
            if (seen >= rank)
            {
                return ms == Buckets ? _max : ms;
            }
        }

        return _max;
    }

    public LatencyFigures Figures() => new(Count, Percentile(0.50), Percentile(0.95), Percentile(0.99), _max);
}

/// <summary>End-to-end latency in milliseconds.</summary>
public sealed record LatencyFigures(long Samples, long P50, long P95, long P99, long Max);
