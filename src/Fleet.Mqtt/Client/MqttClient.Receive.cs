using System.Buffers;
using System.Buffers.Binary;
using System.Threading.Channels;
using Fleet.Mqtt.Protocol;

namespace Fleet.Mqtt.Client;

public sealed partial class MqttClient
{
    /// <summary>
    /// The next batch of received messages. The caller owns it and must dispose it; in manual-acknowledge mode it
    /// acknowledges it first. Throws when the client has closed and nothing is left to read.
    /// </summary>
    public ValueTask<MqttReceivedBatch> ReadBatchAsync(CancellationToken cancellationToken = default)
        => _received.Reader.TryRead(out var batch) ? new ValueTask<MqttReceivedBatch>(batch) : ReadBatchSlowAsync(cancellationToken);

    public bool TryReadBatch(out MqttReceivedBatch batch)
    {
        if (_received.Reader.TryRead(out var read))
        {
            batch = read;
            return true;
        }

        batch = null!;
        return false;
    }

    /// <summary>
    /// Manual mode: queues PUBACK for every QoS 1 message in the batch, written together. Acks for a connection that has
    /// since been replaced are dropped: the broker redelivers those messages. A no-op in automatic mode or when repeated.
    /// </summary>
    public ValueTask AcknowledgeAsync(MqttReceivedBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        cancellationToken.ThrowIfCancellationRequested();
        if (!_options.ManualAcknowledge || !batch.TryMarkAcknowledged())
        {
            return ValueTask.CompletedTask;
        }

        long current;
        lock (_lock)
        {
            current = _generation;
            if (_connection is { IsClosed: false } connection && connection.Generation == batch.ConnectionGeneration)
            {
                for (var i = 0; i < batch.Count; i++)
                {
                    var packetId = batch.GetPacketIdForAck(i);
                    if (packetId != 0)
                    {
                        MqttPacketEncoder.WritePubAck(connection.Output, packetId);
                    }
                }

                connection.RequestWrite();
                return ValueTask.CompletedTask;
            }
        }

        MqttClientLog.AcksDropped(_logger, batch.Count, batch.ConnectionGeneration, current);
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Manual mode: queues the PUBACK of a message deferred from its batch. Dropped, like a batch's, when the connection
    /// it arrived on has been replaced (the broker redelivers). A no-op in automatic mode or for QoS 0.
    /// Acks of deferred messages may overtake those of earlier messages; MQTT asks for PUBACKs in arrival order, but
    /// brokers match them by packet id (Mosquitto does), and each still follows its own message's processing.
    /// </summary>
    public ValueTask AcknowledgeAsync(MqttDeferredAck ack, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!_options.ManualAcknowledge || ack.PacketId == 0)
        {
            return ValueTask.CompletedTask;
        }

        long current;
        lock (_lock)
        {
            current = _generation;
            if (_connection is { IsClosed: false } connection && connection.Generation == ack.ConnectionGeneration)
            {
                MqttPacketEncoder.WritePubAck(connection.Output, ack.PacketId);
                connection.RequestWrite();
                return ValueTask.CompletedTask;
            }
        }

        MqttClientLog.AcksDropped(_logger, 1, ack.ConnectionGeneration, current);
        return ValueTask.CompletedTask;
    }

    private async ValueTask<MqttReceivedBatch> ReadBatchSlowAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _received.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            Exception reason;
            lock (_lock)
            {
                reason = _closedReason ?? new ObjectDisposedException(nameof(MqttClient));
            }

            throw ClosedException(reason);
        }
    }

    private async Task ReadLoopAsync(MqttConnection connection)
    {
        var reader = connection.Reader;
        var token = connection.Token;
        var manual = _options.ManualAcknowledge;
        byte[]? scratch = null;
        var acks = ArrayPool<ushort>.Shared.Rent(256);
        var ackCount = 0;
        MqttReceivedBatch? batch = null;
        try
        {
            await Task.Yield();
            while (true)
            {
                var result = await reader.ReadAsync(token).ConfigureAwait(false);
                connection.LastReceived = _time.GetTimestamp();
                var buffer = result.Buffer;
                var stoppedEarly = false;
                while (MqttPacketDecoder.TryReadFixedHeader(buffer, _options.MaximumPacketSize, out var header) && buffer.Length >= header.TotalLength)
                {
                    var packet = buffer.Slice(header.HeaderLength, header.RemainingLength);
                    var body = packet.IsSingleSegment ? packet.FirstSpan : CopyToScratch(packet, ref scratch);
                    if (header.Type == MqttPacketType.Publish)
                    {
                        var view = MqttPacketDecoder.DecodePublish(header, body, _version);
                        CheckIncomingPublish(view);
                        batch ??= new MqttReceivedBatch(this, connection.Generation, _options.MaximumBatchMessages, (int)Math.Min(buffer.Length, 256 * 1024));
                        batch.Add(view);
                        if (view.QoS == MqttQualityOfService.AtLeastOnce && !manual)
                        {
                            if (ackCount == acks.Length)
                            {
                                var larger = ArrayPool<ushort>.Shared.Rent(acks.Length * 2);
                                acks.AsSpan().CopyTo(larger);
                                ArrayPool<ushort>.Shared.Return(acks);
                                acks = larger;
                            }

                            acks[ackCount++] = view.PacketId;
                        }
                    }
                    else
                    {
                        HandleControlPacket(connection, header, body);
                    }

                    buffer = buffer.Slice(header.TotalLength);
                    if (batch is { IsFull: true })
                    {
                        stoppedEarly = true;
                        break;
                    }
                }

                // Stopping early leaves complete packets unexamined, so the next read returns at once.
                if (stoppedEarly)
                {
                    reader.AdvanceTo(buffer.Start);
                }
                else
                {
                    reader.AdvanceTo(buffer.Start, buffer.End);
                }

                if (ackCount > 0)
                {
                    QueueAcks(connection, acks.AsSpan(0, ackCount));
                    ackCount = 0;
                }

                if (batch is not null)
                {
                    var full = batch;
                    batch = null;
                    await DeliverAsync(connection, full, token).ConfigureAwait(false);
                }

                if (result.IsCompleted && !stoppedEarly)
                {
                    throw new MqttConnectionLostException($"{_options.Host}:{_options.Port} closed the connection.");
                }
            }
        }
        catch (Exception ex)
        {
            batch?.Dispose();
            if (ex is MqttProtocolException protocolError)
            {
                await TrySendDisconnectAsync(connection, protocolError.ReasonCode).ConfigureAwait(false);
            }

            connection.Fail(ex is OperationCanceledException && token.IsCancellationRequested ? null : ex);
        }
        finally
        {
            ArrayPool<ushort>.Shared.Return(acks);
            if (scratch is not null)
            {
                ArrayPool<byte>.Shared.Return(scratch);
            }
        }
    }

    private async ValueTask DeliverAsync(MqttConnection connection, MqttReceivedBatch batch, CancellationToken cancellationToken)
    {
        if (_received.Writer.TryWrite(batch))
        {
            return;
        }

        // The consumer is behind: stop reading (TCP pushes back on the broker) without counting it as a dead peer.
        connection.ReaderBlocked = true;
        try
        {
            await _received.Writer.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            batch.Dispose();
            throw;
        }
        finally
        {
            connection.ReaderBlocked = false;
        }

        if (connection.PingSentAt != 0)
        {
            connection.PingSentAt = Math.Max(1, _time.GetTimestamp());
        }
    }

    private void QueueAcks(MqttConnection connection, ReadOnlySpan<ushort> packetIds)
    {
        lock (_lock)
        {
            if (_connection != connection)
            {
                return;
            }

            foreach (var packetId in packetIds)
            {
                MqttPacketEncoder.WritePubAck(connection.Output, packetId);
            }
        }

        connection.RequestWrite();
    }

    private static void CheckIncomingPublish(in MqttPublishView view)
    {
        if (view.QoS == MqttQualityOfService.ExactlyOnce)
        {
            // We never subscribe above QoS 1, so the server must not send QoS 2.
            throw new MqttProtocolException("MQTT-3.8.4-8", "Received a QoS 2 PUBLISH although no subscription granted QoS 2.") { ReasonCode = 0x82 };
        }

        if (view.TopicUtf8.IsEmpty)
        {
            // We announce no Topic Alias Maximum, so the server may not use aliases (5.0 §3.1.2.11.5).
            throw new MqttProtocolException("MQTT-3.3.2-12", "Received a PUBLISH that relies on a topic alias, which this client never allows.") { ReasonCode = 0x94 };
        }
    }

    private void HandleControlPacket(MqttConnection connection, in MqttFixedHeader header, ReadOnlySpan<byte> body)
    {
        // Hot path: a success PUBACK is two bytes in either version; anything else goes through the full decoder.
        if (header.Type == MqttPacketType.PubAck && header.Flags == 0 && header.RemainingLength == 2)
        {
            var packetId = BinaryPrimitives.ReadUInt16BigEndian(body);
            if (packetId != 0)
            {
                OnPubAck(packetId, 0, null);
                return;
            }
        }

        switch (MqttPacketDecoder.Decode(header, body, _version))
        {
            case PubAckPacket ack:
                OnPubAck(ack.PacketId, ack.ReasonCode, ack.ReasonString);
                break;
            case PingRespPacket:
                connection.PingSentAt = 0;
                break;
            case SubAckPacket subAck:
                OnSubAck(subAck);
                break;
            case UnsubAckPacket unsubAck:
                OnUnsubAck(unsubAck);
                break;
            case DisconnectPacket disconnect:
                MqttClientLog.ServerDisconnect(_logger, disconnect.ReasonCode, MqttReasonCodes.GetName(disconnect.ReasonCode));
                throw new MqttConnectionLostException(
                    $"The broker disconnected: 0x{disconnect.ReasonCode:X2} {MqttReasonCodes.GetName(disconnect.ReasonCode)}"
                    + (disconnect.ReasonString is null ? "" : $" ({disconnect.ReasonString})"));
            case var other:
                throw new MqttProtocolException("MQTT-4.3.0", $"A {other.Type} packet from the server is not expected by a QoS 0/1 client.") { ReasonCode = 0x82 };
        }
    }

    private async Task TrySendDisconnectAsync(MqttConnection connection, byte reasonCode)
    {
        if (_version != MqttProtocolVersion.V500)
        {
            return;
        }

        Task drained;
        lock (_lock)
        {
            if (_connection != connection)
            {
                return;
            }

            MqttPacketEncoder.Encode(connection.Output, new DisconnectPacket(reasonCode), _version);
            drained = connection.GetDrainedTask();
            connection.RequestWrite();
        }

        try
        {
            await drained.WaitAsync(TimeSpan.FromSeconds(1), _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Best effort only: the connection is closed next either way.
        }
    }

    private static ReadOnlySpan<byte> CopyToScratch(in ReadOnlySequence<byte> packet, ref byte[]? scratch)
    {
        var length = (int)packet.Length;
        if (scratch is null || scratch.Length < length)
        {
            if (scratch is not null)
            {
                ArrayPool<byte>.Shared.Return(scratch);
            }

            scratch = ArrayPool<byte>.Shared.Rent(length);
        }

        packet.CopyTo(scratch);
        return scratch.AsSpan(0, length);
    }

    private async Task WriteLoopAsync(MqttConnection connection)
    {
        var token = connection.Token;
        var flush = connection.Stream is not System.Net.Sockets.NetworkStream;
        try
        {
            while (await connection.WriteRequests.WaitToReadAsync(token).ConfigureAwait(false))
            {
                connection.WriteRequests.TryRead(out _);
                TaskCompletionSource? drained;
                lock (_lock)
                {
                    if (connection.Output.WrittenCount == 0)
                    {
                        continue;
                    }

                    drained = connection.SwapForSending();
                }

                await connection.Stream.WriteAsync(connection.Sending.WrittenMemory, token).ConfigureAwait(false);
                if (flush)
                {
                    await connection.Stream.FlushAsync(token).ConfigureAwait(false);
                }

                connection.Sending.Clear();
                connection.LastSent = _time.GetTimestamp();
                drained?.TrySetResult();
            }
        }
        catch (Exception ex)
        {
            connection.Fail(ex is OperationCanceledException && token.IsCancellationRequested ? null : ex);
        }
    }

    private async Task KeepAliveLoopAsync(MqttConnection connection)
    {
        var keepAlive = connection.KeepAlive;
        if (keepAlive <= TimeSpan.Zero)
        {
            return;
        }

        var timeout = _options.EffectivePingTimeout;
        var tick = TimeSpan.FromTicks(Math.Clamp(Math.Min(keepAlive.Ticks, timeout.Ticks) / 4, TimeSpan.FromMilliseconds(50).Ticks, TimeSpan.FromSeconds(1).Ticks));
        var token = connection.Token;
        try
        {
            while (true)
            {
                await Task.Delay(tick, _time, token).ConfigureAwait(false);
                var pingSentAt = connection.PingSentAt;
                var readerBlocked = connection.ReaderBlocked;
                bool due;
                if (pingSentAt != 0)
                {
                    if (!readerBlocked)
                    {
                        if (_time.GetElapsedTime(pingSentAt) > timeout)
                        {
                            MqttClientLog.PingTimeout(_logger, timeout);
                            connection.Fail(new TimeoutException($"No PINGRESP from {_options.Host}:{_options.Port} within {timeout}: the connection is treated as broken."));
                            return;
                        }

                        continue;
                    }

                    // The PINGRESP may sit unread behind the blocked reader, so no timeout is judged; but the broker
                    // drops a client silent for 1.5 × keep-alive, so keep sending while the consumer is stuck.
                    due = _time.GetElapsedTime(connection.LastSent) >= keepAlive;
                }
                else
                {
                    // Ping when idle in either direction: silence from the peer is what reveals a dead one.
                    due = _time.GetElapsedTime(connection.LastSent) >= keepAlive || _time.GetElapsedTime(connection.LastReceived) >= keepAlive;
                }

                if (due)
                {
                    lock (_lock)
                    {
                        if (_connection != connection)
                        {
                            return;
                        }

                        MqttPacketEncoder.Encode(connection.Output, PingReqPacket.Instance, _version);
                    }

                    connection.PingSentAt = Math.Max(1, _time.GetTimestamp());
                    connection.RequestWrite();
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            connection.Fail(ex);
        }
    }
}
