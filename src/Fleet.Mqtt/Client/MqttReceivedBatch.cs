using System.Buffers;
using System.Text;
using Fleet.Mqtt.Protocol;

namespace Fleet.Mqtt.Client;

/// <summary>
/// Messages received together, their topics and payloads packed into one pooled buffer. Valid until disposed;
/// disposing returns the buffers. In manual-acknowledge mode, <see cref="AcknowledgeAsync"/> sends the PUBACKs.
/// </summary>
public sealed class MqttReceivedBatch : IDisposable
{
    private readonly MqttClient _client;
    private readonly int _maximumMessages;
    private byte[] _data;
    private int _dataLength;
    private Entry[] _entries;
    private string?[]? _topics;
    private int _count;
    private int _acknowledged;
    private bool _disposed;

    internal MqttReceivedBatch(MqttClient client, long generation, int maximumMessages, int initialBytes)
    {
        _client = client;
        ConnectionGeneration = generation;
        _maximumMessages = maximumMessages;
        _data = ArrayPool<byte>.Shared.Rent(Math.Max(initialBytes, 256));
        _entries = ArrayPool<Entry>.Shared.Rent(Math.Min(maximumMessages, 64));
    }

    public int Count => _count;

    /// <summary>The connection these messages arrived on; acknowledgements for an older connection are dropped.</summary>
    public long ConnectionGeneration { get; }

    /// <summary>Total topic and payload bytes held.</summary>
    public int ByteCount => _dataLength;

    internal bool IsFull => _count >= _maximumMessages || _dataLength >= 4 * 1024 * 1024;

    public MqttReceivedMessage this[int index]
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if ((uint)index >= (uint)_count)
            {
                throw new ArgumentOutOfRangeException(nameof(index));
            }

            return new MqttReceivedMessage(this, index);
        }
    }

    public Enumerator GetEnumerator() => new(this);

    /// <summary>Sends PUBACK for every QoS 1 message of this batch, in one write (manual mode; a no-op otherwise or when repeated).</summary>
    public ValueTask AcknowledgeAsync(CancellationToken cancellationToken = default) => _client.AcknowledgeAsync(this, cancellationToken);

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        ArrayPool<byte>.Shared.Return(_data);
        ArrayPool<Entry>.Shared.Return(_entries);
        if (_topics is not null)
        {
            ArrayPool<string?>.Shared.Return(_topics, clearArray: true);
        }

        _data = [];
        _entries = [];
        _topics = null;
    }

    internal bool TryMarkAcknowledged() => Interlocked.Exchange(ref _acknowledged, 1) == 0;

    internal ushort GetPacketIdForAck(int index) =>
        _entries[index] is { QoS: MqttQualityOfService.AtLeastOnce, Deferred: false } entry ? entry.PacketId : (ushort)0;

    /// <summary>
    /// Takes message <paramref name="index"/> out of this batch's acknowledgement (manual mode): the caller acknowledges
    /// it on its own with <see cref="MqttClient.AcknowledgeAsync(MqttDeferredAck, CancellationToken)"/>, e.g. after
    /// slower work than the rest of the batch. Call before the batch is acknowledged.
    /// </summary>
    public MqttDeferredAck Defer(int index)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if ((uint)index >= (uint)_count)
        {
            throw new ArgumentOutOfRangeException(nameof(index));
        }

        ref var entry = ref _entries[index];
        var ack = new MqttDeferredAck(ConnectionGeneration, entry.QoS == MqttQualityOfService.AtLeastOnce && !entry.Deferred ? entry.PacketId : (ushort)0);
        entry = entry with { Deferred = true };
        return ack;
    }

    internal void Add(in MqttPublishView view)
    {
        var needed = view.TopicUtf8.Length + view.Payload.Length;
        if (_data.Length - _dataLength < needed)
        {
            var next = ArrayPool<byte>.Shared.Rent(Math.Max(_data.Length * 2, _dataLength + needed));
            _data.AsSpan(0, _dataLength).CopyTo(next);
            ArrayPool<byte>.Shared.Return(_data);
            _data = next;
        }

        if (_count == _entries.Length)
        {
            var next = ArrayPool<Entry>.Shared.Rent(Math.Min(_entries.Length * 2, Math.Max(_maximumMessages, _entries.Length + 1)));
            _entries.AsSpan(0, _count).CopyTo(next);
            ArrayPool<Entry>.Shared.Return(_entries);
            _entries = next;
        }

        var topicStart = _dataLength;
        view.TopicUtf8.CopyTo(_data.AsSpan(_dataLength));
        _dataLength += view.TopicUtf8.Length;
        var payloadStart = _dataLength;
        view.Payload.CopyTo(_data.AsSpan(_dataLength));
        _dataLength += view.Payload.Length;
        _entries[_count++] = new Entry(topicStart, view.TopicUtf8.Length, payloadStart, view.Payload.Length, view.PacketId, view.QoS, view.Retain, view.Dup);
    }

    internal ref readonly Entry GetEntry(int index)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return ref _entries[index];
    }

    internal ReadOnlyMemory<byte> Slice(int start, int length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _data.AsMemory(start, length);
    }

    internal string GetTopic(int index)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _topics ??= CreateTopicCache();
        ref readonly var entry = ref _entries[index];
        return _topics[index] ??= Encoding.UTF8.GetString(_data, entry.TopicStart, entry.TopicLength);
    }

    private string?[] CreateTopicCache()
    {
        var topics = ArrayPool<string?>.Shared.Rent(_count);
        Array.Clear(topics);
        return topics;
    }

    internal readonly record struct Entry(int TopicStart, int TopicLength, int PayloadStart, int PayloadLength, ushort PacketId, MqttQualityOfService QoS, bool Retain, bool Dup, bool Deferred = false);

    public struct Enumerator
    {
        private readonly MqttReceivedBatch _batch;
        private int _index;

        internal Enumerator(MqttReceivedBatch batch)
        {
            _batch = batch;
            _index = -1;
        }

        public readonly MqttReceivedMessage Current => new(_batch, _index);

        public bool MoveNext() => ++_index < _batch._count;
    }
}

/// <summary>
/// The acknowledgement of one message taken out of its batch's (<see cref="MqttReceivedBatch.Defer"/>): the connection it
/// arrived on and its packet id (0 when it needs none, i.e. QoS 0).
/// </summary>
public readonly record struct MqttDeferredAck(long ConnectionGeneration, ushort PacketId);

/// <summary>One message of a <see cref="MqttReceivedBatch"/>: a view into the batch's pooled storage, valid until the batch is disposed.</summary>
public readonly struct MqttReceivedMessage
{
    private readonly MqttReceivedBatch _batch;
    private readonly int _index;

    internal MqttReceivedMessage(MqttReceivedBatch batch, int index)
    {
        _batch = batch;
        _index = index;
    }

    public ReadOnlyMemory<byte> TopicUtf8
    {
        get
        {
            ref readonly var entry = ref _batch.GetEntry(_index);
            return _batch.Slice(entry.TopicStart, entry.TopicLength);
        }
    }

    /// <summary>The topic as a string, created on first use and cached in the batch.</summary>
    public string Topic => _batch.GetTopic(_index);

    public ReadOnlyMemory<byte> Payload
    {
        get
        {
            ref readonly var entry = ref _batch.GetEntry(_index);
            return _batch.Slice(entry.PayloadStart, entry.PayloadLength);
        }
    }

    public MqttQualityOfService QoS => _batch.GetEntry(_index).QoS;
    public bool Retain => _batch.GetEntry(_index).Retain;
    public bool Dup => _batch.GetEntry(_index).Dup;
    public ushort PacketId => _batch.GetEntry(_index).PacketId;
}
