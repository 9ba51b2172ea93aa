using Fleet.Mqtt.Client;

namespace Fleet.Simulator.Running;

/// <summary>Counters shared by the scheduler and the acknowledgement continuations; every update is atomic.</summary>
public sealed class PublishStats
{
    private long _sent;
    private long _acked;
    private long _errors;
    private long _telemetry;
    private long _reports;
    private long _reportsAcked;
    private long _behind;
    private long _maxLagMs;
    private string? _firstError;

    public long Sent => Interlocked.Read(ref _sent);
    public long Acked => Interlocked.Read(ref _acked);
    public long Errors => Interlocked.Read(ref _errors);
    public long TelemetryMessages => Interlocked.Read(ref _telemetry);
    public long Reports => Interlocked.Read(ref _reports);
    public long ReportsAcked => Interlocked.Read(ref _reportsAcked);
    public long Behind => Interlocked.Read(ref _behind);

    /// <summary>Publishes waiting for their acknowledgement.</summary>
    public long Outstanding => Sent - Acked - Errors;

    /// <summary>The first failure seen, for the operator.</summary>
    public string? FirstError => Volatile.Read(ref _firstError);

    public void Sending(int reports)
    {
        Interlocked.Increment(ref _sent);
        if (reports > 0)
        {
            Interlocked.Increment(ref _telemetry);
            Interlocked.Add(ref _reports, reports);
        }
    }

    /// <summary>Counts the outcome; true when the publish was acknowledged with success.</summary>
    public bool Completed(MqttPublishResult result, int reports)
    {
        if (result.IsSuccess)
        {
            Interlocked.Increment(ref _acked);
            if (reports > 0)
            {
                Interlocked.Add(ref _reportsAcked, reports);
            }

            return true;
        }

        Failed($"PUBACK {result.ReasonName}{(result.ReasonString is null ? "" : $": {result.ReasonString}")}");
        return false;
    }

    public void Failed(string reason)
    {
        Interlocked.Increment(ref _errors);
        Interlocked.CompareExchange(ref _firstError, reason, null);
    }

    public void Late(long lagMs, bool behind)
    {
        if (behind)
        {
            Interlocked.Increment(ref _behind);
        }

        long seen;
        while (lagMs > (seen = Interlocked.Read(ref _maxLagMs)) && Interlocked.CompareExchange(ref _maxLagMs, lagMs, seen) != seen)
        {
        }
    }

    /// <summary>The largest lag since the previous call.</summary>
    public long TakeMaxLagMs() => Interlocked.Exchange(ref _maxLagMs, 0);

    /// <summary>Counts the outcome of a QoS 1 publish when its acknowledgement arrives; true when it was acknowledged.</summary>
    public async Task<bool> TrackAsync(ValueTask<MqttPublishResult> pending, int reports)
    {
        try
        {
            return Completed(await pending.ConfigureAwait(false), reports);
        }
        catch (Exception ex) when (ex is OperationCanceledException or MqttConnectionLostException or ObjectDisposedException or InvalidOperationException or IOException)
        {
            Failed(ex.Message);
            return false;
        }
    }
}
