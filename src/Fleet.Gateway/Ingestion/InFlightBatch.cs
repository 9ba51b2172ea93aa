using Fleet.Mqtt.Client;

namespace Fleet.Gateway.Ingestion;

/// <summary>
/// One received MQTT batch between submission and acknowledgement. It owns the batch: the payload buffers stay
/// alive (the shards read the obd slices) until everything it is waiting for has completed.
/// </summary>
internal sealed class InFlightBatch(MqttReceivedBatch batch)
{
    public MqttReceivedBatch Batch { get; } = batch;

    /// <summary>What must complete before the batch may be acknowledged: commits, status commands, the reject write.</summary>
    public List<Task> Pending { get; } = new(2);

    public int Accepted { get; set; }

    public int Rejected { get; set; }

    public int Duplicates { get; set; }

    public int Statuses { get; set; }

    /// <summary>Messages of this batch moved to the backlog lane (acknowledged on their own); null when none.</summary>
    public List<BacklogMessage>? Backlog { get; set; }

    /// <summary>Messages this batch acknowledges itself: all but those on the backlog lane.</summary>
    public int LiveMessages => Batch.Count - (Backlog?.Count ?? 0);

    /// <summary>Rows for <c>telemetry_rejects</c>; null when nothing was refused.</summary>
    public List<TelemetryRejectRow>? Rejects { get; set; }

    /// <summary>Completes when every pending task has; throws the first failure, in order.</summary>
    public async Task WhenSettledAsync(CancellationToken cancellationToken)
    {
        for (var i = 0; i < Pending.Count; i++)
        {
            await Pending[i].WaitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// For a batch that will not be acknowledged: the broker redelivers it. Its buffers go back to the pool once its
    /// submissions are done; after a failed commit the shards may still read them, so the GC gets them instead.
    /// </summary>
    public async Task ReleaseWhenSettledAsync()
    {
        await Task.WhenAll(Pending).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        var succeeded = true;
        foreach (var task in Pending)
        {
            if (task.IsFaulted)
            {
                // SuppressThrowing observes only the WhenAll task, not these: read them, or each failure of an
                // abandoned batch surfaces again as an UnobservedTaskException when it is collected.
                _ = task.Exception;
            }

            succeeded &= task.IsCompletedSuccessfully;
        }

        if (succeeded)
        {
            Batch.Dispose();
        }
    }
}
