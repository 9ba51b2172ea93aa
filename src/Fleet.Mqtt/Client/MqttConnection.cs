using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Channels;
using Fleet.Mqtt.Protocol;

namespace Fleet.Mqtt.Client;

/// <summary>
/// One transport connection of a <see cref="MqttClient"/>: socket, stream, reader and the two output buffers.
/// <see cref="Output"/> is filled by producers under the client's lock; the writer loop swaps it with
/// <see cref="Sending"/> and writes everything queued in one call, which is what coalesces packets.
/// </summary>
internal sealed class MqttConnection : IDisposable
{
    private readonly Channel<bool> _signal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });

    private readonly TaskCompletionSource<Exception?> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _cts = new();
    private readonly Action<MqttConnection> _onClosed;
    private TaskCompletionSource? _drained;
    private long _lastSent;
    private long _lastReceived;
    private long _pingSentAt;
    private volatile bool _readerBlocked;

    public MqttConnection(Socket socket, Stream stream, PipeReader reader, ConnAckPacket connAck, TimeSpan keepAlive, long now, Action<MqttConnection> onClosed)
    {
        _onClosed = onClosed;
        Socket = socket;
        Stream = stream;
        Reader = reader;
        ConnAck = connAck;
        KeepAlive = keepAlive;
        _lastSent = now;
        _lastReceived = now;
        BrokerMaximumPacketSize = connAck.MaximumPacketSize is { } max and > 0 ? (int)Math.Min(max, int.MaxValue) : int.MaxValue;
    }

    public Socket Socket { get; }
    public Stream Stream { get; }
    public PipeReader Reader { get; }
    public ConnAckPacket ConnAck { get; }
    public TimeSpan KeepAlive { get; }
    public int BrokerMaximumPacketSize { get; }
    public long Generation { get; set; }

    /// <summary>Guarded by the client's lock.</summary>
    public PooledBufferWriter Output { get; private set; } = new(16 * 1024);

    /// <summary>Owned by the writer loop.</summary>
    public PooledBufferWriter Sending { get; private set; } = new(16 * 1024);

    public CancellationToken Token => _cts.Token;
    public Task<Exception?> Closed => _closed.Task;
    public bool IsClosed => _closed.Task.IsCompleted;
    public ChannelReader<bool> WriteRequests => _signal.Reader;

    public Task? ReaderTask { get; set; }
    public Task? WriterTask { get; set; }
    public Task? KeepAliveTask { get; set; }

    public long LastSent
    {
        get => Interlocked.Read(ref _lastSent);
        set => Interlocked.Exchange(ref _lastSent, value);
    }

    public long LastReceived
    {
        get => Interlocked.Read(ref _lastReceived);
        set => Interlocked.Exchange(ref _lastReceived, value);
    }

    /// <summary>Timestamp of the outstanding PINGREQ, or 0 when none is outstanding.</summary>
    public long PingSentAt
    {
        get => Interlocked.Read(ref _pingSentAt);
        set => Interlocked.Exchange(ref _pingSentAt, value);
    }

    /// <summary>True while the reader waits for the consumer; unread PINGRESPs then do not count as a dead peer.</summary>
    public bool ReaderBlocked
    {
        get => _readerBlocked;
        set => _readerBlocked = value;
    }

    public void RequestWrite() => _signal.Writer.TryWrite(true);

    /// <summary>Called under the client's lock by a producer that found the output over its high-water mark.</summary>
    public Task GetDrainedTask()
    {
        if (IsClosed)
        {
            return Task.CompletedTask;
        }

        _drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _drained.Task;
    }

    /// <summary>Called under the client's lock by the writer loop: hands the queued bytes over for writing.</summary>
    public TaskCompletionSource? SwapForSending()
    {
        (Output, Sending) = (Sending, Output);
        var drained = _drained;
        _drained = null;
        return drained;
    }

    /// <summary>
    /// Marks the connection broken and unblocks every loop; the first reason wins.
    /// Must not be called under the client's lock (the close callback takes it).
    /// </summary>
    public void Fail(Exception? reason)
    {
        if (!_closed.TrySetResult(reason))
        {
            return;
        }

        _onClosed(this);
        _cts.Cancel();
        try
        {
            Socket.Close();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Called under the client's lock once the loops have ended.</summary>
    public TaskCompletionSource? ReleaseBuffers()
    {
        Output.Dispose();
        Sending.Dispose();
        var drained = _drained;
        _drained = null;
        return drained;
    }

    public void Dispose()
    {
        _cts.Dispose();
        try
        {
            Stream.Dispose();
        }
        catch (IOException)
        {
        }
        catch (ObjectDisposedException)
        {
        }

        Socket.Dispose();
    }
}
