using Fleet.Mqtt.Client;

namespace Fleet.Gateway.Ingestion;

/// <summary>
/// One historic telemetry message (a terminal's store-and-forward upload) on the backlog lane: taken out of its
/// batch's acknowledgement, its payload copied so the batch can be released without it, its reports submitted to
/// the shards' lower-priority lane. Acknowledged on its own, in backlog arrival order, once <see cref="Pending"/>
/// has completed.
/// </summary>
internal sealed class BacklogMessage(MqttDeferredAck ack, int accepted)
{
    public MqttDeferredAck Ack { get; } = ack;

    /// <summary>Reports of this message accepted and submitted (duplicates and rejects excluded).</summary>
    public int Accepted { get; } = accepted;

    /// <summary>Its commit, and the reject write of its batch when that batch refused anything.</summary>
    public List<Task> Pending { get; } = new(2);

    public async Task WhenSettledAsync(CancellationToken cancellationToken)
    {
        for (var i = 0; i < Pending.Count; i++)
        {
            await Pending[i].WaitAsync(cancellationToken);
        }
    }

    /// <summary>For a message that will not be acknowledged: observes its failures so none surfaces as unobserved.</summary>
    public void Abandon()
    {
        foreach (var task in Pending)
        {
            _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }
}
