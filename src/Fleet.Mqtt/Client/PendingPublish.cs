using System.Buffers;
using System.Buffers.Binary;
using System.Threading.Tasks.Sources;

namespace Fleet.Mqtt.Client;

/// <summary>
/// One unacknowledged outgoing QoS 1 PUBLISH: its encoded bytes (kept for a DUP resend) and the awaitable the caller holds.
/// Used once, never pooled, so a late PUBACK or cancellation can never complete someone else's publish.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "The buffer goes back to the pool in ReleaseBuffer, when the entry leaves the in-flight table.")]
internal sealed class PendingPublish : IValueTaskSource<MqttPublishResult>
{
    private readonly PooledBufferWriter _packet;
    private ManualResetValueTaskSourceCore<MqttPublishResult> _core;
    private int _completed;
    private CancellationTokenRegistration _cancellation;

    public PendingPublish(int sizeHint, bool inlineCompletion)
    {
        _packet = new PooledBufferWriter(Math.Max(sizeHint, 16));
        _core.RunContinuationsAsynchronously = !inlineCompletion;
    }

    public ushort PacketId { get; private set; }

    /// <summary>Order of first submission, so resends keep the original order.</summary>
    public long Sequence { get; set; }

    /// <summary>Whether the packet has been handed to a connection once (a later send sets DUP).</summary>
    public bool Sent { get; set; }

    /// <summary>Where the PUBLISH is encoded, once, before the packet id is known.</summary>
    public IBufferWriter<byte> Writer => _packet;

    public ReadOnlySpan<byte> Packet => _packet.WrittenSpan;

    public short Version => _core.Version;

    public void RegisterCancellation(CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled)
        {
            _cancellation = cancellationToken.Register(
                static (state, token) => ((PendingPublish)state!).TrySetException(new OperationCanceledException(token)),
                this);
        }
    }

    /// <summary>Patches the packet identifier into the encoded bytes (it follows the topic, 3.3.2.2).</summary>
    public void SetPacketId(ushort packetId, int topicLength)
    {
        PacketId = packetId;
        var packet = _packet.WrittenSpan;
        var headerLength = 2;
        while ((packet[headerLength - 1] & 0x80) != 0)
        {
            headerLength++;
        }

        BinaryPrimitives.WriteUInt16BigEndian(packet[(headerLength + 2 + topicLength)..], packetId);
    }

    /// <summary>Sets the DUP flag (3.3.1.1) for a resend.</summary>
    public void MarkDuplicate() => _packet.WrittenSpan[0] |= 0x08;

    public bool TrySetResult(MqttPublishResult result)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return false;
        }

        _core.SetResult(result);
        return true;
    }

    public bool TrySetException(Exception exception)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return false;
        }

        _core.SetException(exception);
        return true;
    }

    /// <summary>Returns the encoded bytes to the pool; called once, under the client's lock, when the entry leaves the in-flight table.</summary>
    public void ReleaseBuffer() => _packet.Dispose();

    public MqttPublishResult GetResult(short token)
    {
        _cancellation.Dispose();
        return _core.GetResult(token);
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _core.OnCompleted(continuation, state, token, flags);
}
