using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Fleet.Mqtt.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fleet.Mqtt.Client;

/// <summary>
/// MQTT 3.1.1 / 5.0 client: QoS 0 and 1 both ways, batched receive into pooled buffers, optional manual
/// acknowledgement, an outgoing in-flight window, keep-alive, and automatic reconnect that resumes the session
/// (resending unacknowledged publishes with DUP) or rebuilds it (resubscribing).
/// Every public member is safe to call from many threads at once.
/// </summary>
public sealed partial class MqttClient : IAsyncDisposable
{
    // Above this many queued output bytes, QoS 0 publishers wait for the socket instead of growing the buffer.
    private const int OutputHighWater = 4 * 1024 * 1024;

    private readonly MqttClientOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly MqttProtocolVersion _version;

    // Guards the connection, the output buffer, the packet-id tables and the subscriptions.
    private readonly Lock _lock = new();
    private readonly Dictionary<ushort, PendingPublish> _inflight = [];
    private readonly Dictionary<ushort, PendingRequest> _requests = [];
    private readonly Dictionary<string, MqttSubscription> _subscriptions = new(StringComparer.Ordinal);
    private readonly InflightWindow _window;
    private readonly Channel<MqttReceivedBatch> _received;
    private readonly CancellationTokenSource _closing = new();

    private TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private MqttConnection? _connection;
    private ConnAckPacket? _lastConnAck;
    private Task? _supervisor;
    private Exception? _closedReason;
    private Exception? _requestedCloseReason;
    private string? _assignedClientId;
    private long _generation;
    private long _sequence;
    private long _duplicatesResent;
    private ushort _lastPacketId;
    private int _started;
    private int _disposed;

    public MqttClient(MqttClientOptions options, ILogger? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _version = options.ProtocolVersion;
        _logger = logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        _window = new InflightWindow(options.MaximumOutgoingInflight);
        _received = Channel.CreateBounded<MqttReceivedBatch>(new BoundedChannelOptions(options.ReceiveQueueBatches)
        {
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public MqttClientOptions Options => _options;

    public bool IsConnected => Volatile.Read(ref _connection) is { IsClosed: false };

    /// <summary>Number of successful connects so far; the generation of the current connection.</summary>
    public long ConnectionGeneration => Interlocked.Read(ref _generation);

    /// <summary>Unacknowledged outgoing QoS 1 publishes right now.</summary>
    public int InflightCount => _window.Count;

    /// <summary>The current in-flight limit: our cap or the broker's Receive Maximum, whichever is lower.</summary>
    public int InflightLimit => _window.Limit;

    /// <summary>The most unacknowledged outgoing QoS 1 publishes there have ever been at once.</summary>
    public int PeakInflightCount => _window.Peak;

    /// <summary>QoS 1 publishes sent again with DUP after a reconnect, in total.</summary>
    public long DuplicatesResent
    {
        get
        {
            lock (_lock)
            {
                return _duplicatesResent;
            }
        }
    }

    /// <summary>The CONNACK of the latest connection.</summary>
    public ConnAckPacket? LastConnAck => Volatile.Read(ref _lastConnAck);

    /// <summary>Received batches; an alternative to <see cref="ReadBatchAsync"/>. Completes when the client closes.</summary>
    public ChannelReader<MqttReceivedBatch> Batches => _received.Reader;

    /// <summary>
    /// Connects once; a refusal throws <see cref="MqttConnectException"/>, a timeout <see cref="TimeoutException"/>.
    /// After success the client keeps itself connected until disposed (if <see cref="MqttClientOptions.AutoReconnect"/>).
    /// </summary>
    public async Task<MqttConnectResult> ConnectAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("ConnectAsync was already called; the client reconnects by itself.");
        }

        MqttConnection connection;
        try
        {
            connection = await EstablishAsync(_options.CleanStart, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Volatile.Write(ref _started, 0);
            throw;
        }

        if (!Activate(connection))
        {
            await TearDownAsync(connection).ConfigureAwait(false);
            throw new ObjectDisposedException(nameof(MqttClient));
        }

        lock (_lock)
        {
            _supervisor = SuperviseAsync(connection);
        }

        return new MqttConnectResult(connection.ConnAck.SessionPresent, connection.ConnAck, connection.Generation);
    }

    /// <summary>Completes when a connection is up (at once if it is now); faults when the client has closed.</summary>
    public Task WaitUntilConnectedAsync(CancellationToken cancellationToken = default)
    {
        Task connected;
        lock (_lock)
        {
            connected = _connected.Task;
        }

        return connected.WaitAsync(cancellationToken);
    }

    /// <summary>Sends DISCONNECT (so no will is published), closes, and stops reconnecting. Pending operations fault.</summary>
    public Task DisconnectAsync(CancellationToken cancellationToken = default)
        => CloseAsync(new MqttConnectionLostException("The client was disconnected."), cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5), _time))
        {
            try
            {
                await CloseAsync(new ObjectDisposedException(nameof(MqttClient)), timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The socket could not be drained in time; the connection is torn down below regardless.
            }
        }

        MqttConnection? connection;
        lock (_lock)
        {
            connection = _connection;
        }

        connection?.Fail(null);
        CloseCore(new ObjectDisposedException(nameof(MqttClient)));
        while (_received.Reader.TryRead(out var batch))
        {
            batch.Dispose();
        }

        MqttClientLog.Closed(_logger);
    }

    /// <summary>Test hook: drops the transport without DISCONNECT, as a crash or a cut cable would.</summary>
    internal void AbortConnection()
    {
        MqttConnection? connection;
        lock (_lock)
        {
            connection = _connection;
        }

        connection?.Fail(new IOException("Connection aborted."));
    }

    private async Task CloseAsync(Exception reason, CancellationToken cancellationToken)
    {
        MqttConnection? connection;
        Task drained = Task.CompletedTask;
        Task? supervisor;
        lock (_lock)
        {
            _requestedCloseReason ??= reason;
            connection = _connection;
            supervisor = _supervisor;
            if (connection is { IsClosed: false })
            {
                MqttPacketEncoder.Encode(connection.Output, new DisconnectPacket(), _version);
                drained = connection.GetDrainedTask();
                connection.RequestWrite();
            }
        }

        // Stops a reconnect in progress; the live connection has its own token.
        await _closing.CancelAsync().ConfigureAwait(false);
        try
        {
            using var drainTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(2), _time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, drainTimeout.Token);
            await drained.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // A peer that does not read is not waited for.
        }
        finally
        {
            connection?.Fail(null);
        }

        if (supervisor is not null)
        {
            await supervisor.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            if (connection is not null)
            {
                await TearDownAsync(connection).WaitAsync(cancellationToken).ConfigureAwait(false);
            }

            CloseCore(reason);
        }
    }

    private async Task SuperviseAsync(MqttConnection connection)
    {
        var current = connection;
        try
        {
            while (true)
            {
                var reason = await current.Closed.ConfigureAwait(false);
                await TearDownAsync(current).ConfigureAwait(false);
                if (_closing.IsCancellationRequested)
                {
                    break;
                }

                MqttClientLog.ConnectionLost(_logger, current.Generation, reason);
                if (!_options.AutoReconnect)
                {
                    CloseCore(new MqttConnectionLostException("The MQTT connection was lost and automatic reconnect is off.", reason));
                    return;
                }

                var next = await ReconnectAsync().ConfigureAwait(false);
                if (next is null)
                {
                    break;
                }

                if (!Activate(next))
                {
                    await TearDownAsync(next).ConfigureAwait(false);
                    break;
                }

                current = next;
            }
        }
        catch (Exception ex)
        {
            // Never leave callers waiting on a supervisor that died.
            CloseCore(new MqttConnectionLostException("The MQTT client failed.", ex));
            return;
        }

        CloseCore(_requestedCloseReason ?? new ObjectDisposedException(nameof(MqttClient)));
    }

    private async Task<MqttConnection?> ReconnectAsync()
    {
        // At 5.0 a reconnect asks to resume; the session expiry decides if there is anything to resume.
        var cleanStart = _version == MqttProtocolVersion.V311 && _options.CleanStart;
        for (var attempt = 0; ; attempt++)
        {
            var delay = ReconnectBackoff.Compute(attempt, _options.ReconnectMinDelay, _options.ReconnectMaxDelay, _options.ReconnectJitter, NextRandom());
            try
            {
                await Task.Delay(delay, _time, _closing.Token).ConfigureAwait(false);
                return await EstablishAsync(cleanStart, _closing.Token).ConfigureAwait(false);
            }
            catch (Exception) when (_closing.IsCancellationRequested)
            {
                return null;
            }
            catch (Exception ex)
            {
                var nextDelay = ReconnectBackoff.Compute(attempt + 1, _options.ReconnectMinDelay, _options.ReconnectMaxDelay, 0, 0.5);
                MqttClientLog.ReconnectFailed(_logger, attempt + 1, _options.Host, _options.Port, nextDelay, ex);
            }
        }
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5394:Do not use insecure randomness", Justification = "Reconnect jitter only spreads load; it guards no secret.")]
    private static double NextRandom() => Random.Shared.NextDouble();

    private async Task<MqttConnection> EstablishAsync(bool cleanStart, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(_options.ConnectTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token, _closing.Token);
        var token = linked.Token;
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream? stream = null;
        PipeReader? reader = null;
        try
        {
            await socket.ConnectAsync(_options.Host, _options.Port, token).ConfigureAwait(false);
            stream = new NetworkStream(socket, ownsSocket: false);
            if (_options.Tls is { } tls)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                await ssl.AuthenticateAsClientAsync(WithTargetHost(tls), token).ConfigureAwait(false);
            }

            reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 16 * 1024, leaveOpen: true));
            using (var connect = new PooledBufferWriter(256))
            {
                MqttPacketEncoder.Encode(connect, BuildConnect(cleanStart), _version);
                await stream.WriteAsync(connect.WrittenMemory, token).ConfigureAwait(false);
                await stream.FlushAsync(token).ConfigureAwait(false);
            }

            var connAck = await ReadConnAckAsync(reader, token).ConfigureAwait(false);
            if (connAck.ReasonCode != 0)
            {
                throw new MqttConnectException(_options.Host, _options.Port, connAck.ReasonCode, _version, connAck.ReasonString);
            }

            var keepAlive = connAck.ServerKeepAlive is { } serverKeepAlive ? TimeSpan.FromSeconds(serverKeepAlive) : _options.KeepAlive;
            return new MqttConnection(socket, stream, reader, connAck, keepAlive, _time.GetTimestamp(), OnConnectionClosed);
        }
        catch (Exception ex)
        {
            if (reader is not null)
            {
                await reader.CompleteAsync().ConfigureAwait(false);
            }

            if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }

            socket.Dispose();
            if (ex is OperationCanceledException && timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested && !_closing.IsCancellationRequested)
            {
                throw new TimeoutException($"MQTT connect to {_options.Host}:{_options.Port} timed out after {_options.ConnectTimeout}.", ex);
            }

            throw;
        }
    }

    private SslClientAuthenticationOptions WithTargetHost(SslClientAuthenticationOptions tls)
    {
        if (!string.IsNullOrEmpty(tls.TargetHost))
        {
            return tls;
        }

        // The caller's options object is left untouched; it may be shared.
        return new SslClientAuthenticationOptions
        {
            TargetHost = _options.Host,
            ClientCertificates = tls.ClientCertificates,
            ClientCertificateContext = tls.ClientCertificateContext,
            LocalCertificateSelectionCallback = tls.LocalCertificateSelectionCallback,
            RemoteCertificateValidationCallback = tls.RemoteCertificateValidationCallback,
            EnabledSslProtocols = tls.EnabledSslProtocols,
            CertificateRevocationCheckMode = tls.CertificateRevocationCheckMode,
            CertificateChainPolicy = tls.CertificateChainPolicy,
            ApplicationProtocols = tls.ApplicationProtocols,
            EncryptionPolicy = tls.EncryptionPolicy,
            AllowRenegotiation = tls.AllowRenegotiation,
            CipherSuitesPolicy = tls.CipherSuitesPolicy,
        };
    }

    private ConnectPacket BuildConnect(bool cleanStart)
    {
        var v5 = _version == MqttProtocolVersion.V500;
        var clientId = _options.ClientId.Length == 0 ? Volatile.Read(ref _assignedClientId) ?? "" : _options.ClientId;
        return new ConnectPacket(clientId, (ushort)_options.KeepAlive.TotalSeconds, cleanStart)
        {
            ProtocolVersion = _version,
            Username = _options.Username,
            Password = _options.Password is null ? null : Encoding.UTF8.GetBytes(_options.Password),
            Will = _options.Will,
            SessionExpiryInterval = v5 && _options.SessionExpiryInterval > 0 ? _options.SessionExpiryInterval : null,
            ReceiveMaximum = v5 ? _options.ReceiveMaximum : null,
            MaximumPacketSize = v5 ? (uint)_options.MaximumPacketSize : null,
        };
    }

    private async Task<ConnAckPacket> ReadConnAckAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (MqttPacketDecoder.TryReadFixedHeader(buffer, _options.MaximumPacketSize, out var header))
            {
                if (header.Type != MqttPacketType.ConnAck)
                {
                    throw new MqttProtocolException("MQTT-3.2.0-1", $"The first packet from the server must be CONNACK, not {header.Type}.");
                }

                if (buffer.Length >= header.TotalLength)
                {
                    var body = buffer.Slice(header.HeaderLength, header.RemainingLength).ToArray();
                    reader.AdvanceTo(buffer.GetPosition(header.TotalLength));
                    return MqttPacketDecoder.Decode(header, body, _version) as ConnAckPacket
                        ?? throw new MqttProtocolException("MQTT-3.2.0-1", "The decoder did not return a CONNACK.");
                }
            }

            if (result.IsCompleted)
            {
                throw new MqttConnectionLostException($"{_options.Host}:{_options.Port} closed the connection before CONNACK.");
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Makes a fresh connection current: replays the session state it needs, then starts its loops.</summary>
    private bool Activate(MqttConnection connection)
    {
        var limit = Math.Min(_options.MaximumOutgoingInflight, connection.ConnAck.ReceiveMaximum ?? ushort.MaxValue);
        _window.SetLimit(limit);
        int resent;
        int resubscribed = 0;
        lock (_lock)
        {
            if (_closedReason is not null || _closing.IsCancellationRequested)
            {
                return false;
            }

            connection.Generation = ++_generation;
            _lastConnAck = connection.ConnAck;
            if (connection.ConnAck.AssignedClientIdentifier is { Length: > 0 } assigned)
            {
                _assignedClientId = assigned;
            }

            if (!connection.ConnAck.SessionPresent && _subscriptions.Count > 0)
            {
                // The broker has no session: rebuild ours from what SUBACKs granted.
                MqttSubscription[] subscriptions = [.. _subscriptions.Values];
                var id = NextPacketId();
                var packet = EncodeToArray(new SubscribePacket(id, subscriptions));
                _requests.Add(id, new PendingRequest(id, packet, subscriptions, null, isInternal: true));
                resubscribed = subscriptions.Length;
            }

            foreach (var request in _requests.Values)
            {
                connection.Output.Write(request.Packet);
            }

            PendingPublish[] pending = [.. _inflight.Values];
            Array.Sort(pending, static (a, b) => a.Sequence.CompareTo(b.Sequence));
            foreach (var publish in pending)
            {
                if (publish.Sent)
                {
                    publish.MarkDuplicate();
                    _duplicatesResent++;
                }

                connection.Output.Write(publish.Packet);
                publish.Sent = true;
            }

            resent = pending.Length;
            Volatile.Write(ref _connection, connection);
            _connected.TrySetResult();
        }

        MqttClientLog.Connected(_logger, _options.Host, _options.Port, _options.ClientId, _version, connection.ConnAck.SessionPresent, connection.Generation);
        if (resubscribed > 0)
        {
            MqttClientLog.Resubscribing(_logger, resubscribed);
        }

        if (resent > 0)
        {
            MqttClientLog.Resending(_logger, resent, connection.Generation);
        }

        connection.ReaderTask = ReadLoopAsync(connection);
        connection.WriterTask = WriteLoopAsync(connection);
        connection.KeepAliveTask = KeepAliveLoopAsync(connection);
        connection.RequestWrite();
        return true;
    }

    private async Task TearDownAsync(MqttConnection connection)
    {
        connection.Fail(null);
        Task[] loops = [connection.ReaderTask ?? Task.CompletedTask, connection.WriterTask ?? Task.CompletedTask, connection.KeepAliveTask ?? Task.CompletedTask];
        try
        {
            await Task.WhenAll(loops).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The loops report through Fail; nothing more to learn here.
        }

        OnConnectionClosed(connection);
        TaskCompletionSource? drained;
        lock (_lock)
        {
            drained = connection.ReleaseBuffers();
        }

        drained?.TrySetResult();
        await connection.Reader.CompleteAsync().ConfigureAwait(false);
        connection.Dispose();
    }

    /// <summary>Detaches a broken connection at once, so producers queue for the next one instead of writing into a dead buffer.</summary>
    private void OnConnectionClosed(MqttConnection connection)
    {
        lock (_lock)
        {
            if (_connection != connection)
            {
                return;
            }

            Volatile.Write(ref _connection, null);
            if (_connected.Task.IsCompletedSuccessfully)
            {
                _connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    /// <summary>Final: fails everything still waiting. Idempotent; the first reason wins.</summary>
    private void CloseCore(Exception reason)
    {
        PendingPublish[] publishes;
        PendingRequest[] requests;
        lock (_lock)
        {
            if (_closedReason is not null)
            {
                return;
            }

            _closedReason = reason;
            publishes = [.. _inflight.Values];
            foreach (var publish in publishes)
            {
                publish.ReleaseBuffer();
            }

            _inflight.Clear();
            requests = [.. _requests.Values];
            _requests.Clear();
            if (!_connected.TrySetException(reason))
            {
                _connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _connected.SetException(reason);
            }

            // Observed here so a close nobody waited for does not surface as an unobserved task exception.
            _ = _connected.Task.Exception;
        }

        _window.Close(reason);
        foreach (var publish in publishes)
        {
            publish.TrySetException(reason);
        }

        foreach (var request in requests)
        {
            request.TrySetException(reason);
            _ = request.Task.Exception;
        }

        _received.Writer.TryComplete();
    }

    private Exception ClosedException(Exception reason) => reason switch
    {
        ObjectDisposedException => new ObjectDisposedException(nameof(MqttClient)),
        _ => new MqttConnectionLostException("The MQTT client is closed.", reason),
    };

    /// <summary>Under the lock.</summary>
    private ushort NextPacketId()
    {
        for (var i = 0; i < ushort.MaxValue; i++)
        {
            _lastPacketId = _lastPacketId == ushort.MaxValue ? (ushort)1 : (ushort)(_lastPacketId + 1);
            if (!_inflight.ContainsKey(_lastPacketId) && !_requests.ContainsKey(_lastPacketId))
            {
                return _lastPacketId;
            }
        }

        throw new InvalidOperationException("All 65535 MQTT packet identifiers are in use.");
    }

    private byte[] EncodeToArray(MqttPacket packet)
    {
        using var writer = new PooledBufferWriter(256);
        MqttPacketEncoder.Encode(writer, packet, _version);
        return writer.WrittenSpan.ToArray();
    }
}
