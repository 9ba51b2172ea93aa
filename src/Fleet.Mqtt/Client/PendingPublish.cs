using System.Buffers;
using System.Buffers.Binary;
using System.Threading.Tasks.Sources;

namespace Fleet.Mqtt.Client;

/// <summary>
/// One unacknowledged outgoing QoS 1 PUBLISH: its encoded bytes (kept for a DUP resend) and the awaitable the caller holds.
/// Used once, never pooled, so a late PUBACK or cancellation can never complete someone else's publish.
/// </summary>
internal sealed class PendingPublish : IValueTaskSource<MqttPublishResult>, IBufferWriter<byte>
{
    private ManualResetValueTaskSourceCore<MqttPublishResult> _core;
    private byte[] _buffer;
    private int _written;
    private int _completed;
    private CancellationTokenRegistration _cancellation;

    public PendingPublish(int sizeHint)
    {
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(sizeHint, 16));
        _core.RunContinuationsAsynchronously = true;
    }

    public ushort PacketId { get; private set; }

    /// <summary>Order of first submission, so resends keep the original order.</summary>
    public long Sequence { get; set; }

    /// <summary>Whether the packet has been handed to a connection once (a later send sets DUP).</summary>
    public bool Sent { get; set; }

    public ReadOnlySpan<byte> Packet => _buffer.AsSpan(0, _written);

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
        var headerLength = 2;
        while ((_buffer[headerLength - 1] & 0x80) != 0)
        {
            headerLength++;
        }

        BinaryPrimitives.WriteUInt16BigEndian(_buffer.AsSpan(headerLength + 2 + topicLength), packetId);
    }

    /// <summary>Sets the DUP flag (3.3.1.1) for a resend.</summary>
    public void MarkDuplicate() => _buffer[0] |= 0x08;

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
    public void ReleaseBuffer()
    {
        var old = _buffer;
        _buffer = [];
        _written = 0;
        if (old.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(old);
        }
    }

    public MqttPublishResult GetResult(short token)
    {
        _cancellation.Dispose();
        return _core.GetResult(token);
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _core.OnCompleted(continuation, state, token, flags);

    public void Advance(int count) => _written += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_written);
    }

    private void Ensure(int sizeHint)
    {
        sizeHint = Math.Max(sizeHint, 1);
        if (_buffer.Length - _written >= sizeHint)
        {
            return;
        }

        var next = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _written + sizeHint));
        _buffer.AsSpan(0, _written).CopyTo(next);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = next;
    }
}
