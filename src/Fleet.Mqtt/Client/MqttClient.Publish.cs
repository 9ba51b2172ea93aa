using System.Buffers;
using System.Text;
using Fleet.Mqtt.Protocol;

namespace Fleet.Mqtt.Client;

public sealed partial class MqttClient
{
    /// <summary>
    /// Publishes a message. QoS 0 completes once queued for the socket (usually synchronously, without allocating a task).
    /// QoS 1 completes with the PUBACK's reason code; if the connection breaks first, the message is resent on the next
    /// connection (with DUP when it had been sent). Cancelling stops the wait, not an already-queued delivery.
    /// Faults when the client is closed.
    /// </summary>
    public ValueTask<MqttPublishResult> PublishAsync(
        string topic,
        ReadOnlyMemory<byte> payload,
        MqttQualityOfService qos = MqttQualityOfService.AtMostOnce,
        bool retain = false,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        var maxBytes = Encoding.UTF8.GetMaxByteCount(topic.Length);
        byte[]? rented = null;
        var topicBytes = maxBytes <= 256 ? stackalloc byte[256] : (rented = ArrayPool<byte>.Shared.Rent(maxBytes));
        try
        {
            var length = Encoding.UTF8.GetBytes(topic, topicBytes);
            return PublishAsync(topicBytes[..length], payload.Span, qos, retain, cancellationToken);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>As <see cref="PublishAsync(string, ReadOnlyMemory{byte}, MqttQualityOfService, bool, CancellationToken)"/>, with the topic already UTF-8. Both spans are copied before this returns.</summary>
    public ValueTask<MqttPublishResult> PublishAsync(
        ReadOnlySpan<byte> topicUtf8,
        ReadOnlySpan<byte> payload,
        MqttQualityOfService qos = MqttQualityOfService.AtMostOnce,
        bool retain = false,
        CancellationToken cancellationToken = default)
    {
        ValidateTopicName(topicUtf8);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<MqttPublishResult>(cancellationToken);
        }

        return qos switch
        {
            MqttQualityOfService.AtMostOnce => PublishQos0(topicUtf8, payload, retain, cancellationToken),
            MqttQualityOfService.AtLeastOnce => PublishQos1(topicUtf8, payload, retain, cancellationToken),
            _ => throw new NotSupportedException("This client publishes at QoS 0 and 1 only."),
        };
    }

    private ValueTask<MqttPublishResult> PublishQos0(ReadOnlySpan<byte> topic, ReadOnlySpan<byte> payload, bool retain, CancellationToken cancellationToken)
    {
        var size = PublishPacketSize(topic.Length, payload.Length, MqttQualityOfService.AtMostOnce);
        Task? drained = null;
        lock (_lock)
        {
            ThrowIfClosed();
            if (_connection is { IsClosed: false } connection)
            {
                CheckPacketSize(connection, size);
                MqttPacketEncoder.WritePublish(connection.Output, topic, payload, MqttQualityOfService.AtMostOnce, retain, dup: false, packetId: 0, _version);
                if (connection.Output.WrittenCount > OutputHighWater)
                {
                    drained = connection.GetDrainedTask();
                }

                connection.RequestWrite();
                return drained is null ? new ValueTask<MqttPublishResult>(MqttPublishResult.Queued) : AwaitDrainedAsync(drained, cancellationToken);
            }
        }

        // Not connected: keep a copy and send it on the next connection.
        var packet = new PooledBufferWriter(size);
        MqttPacketEncoder.WritePublish(packet, topic, payload, MqttQualityOfService.AtMostOnce, retain, dup: false, packetId: 0, _version);
        return PublishQos0WhenConnectedAsync(packet, cancellationToken);
    }

    private static async ValueTask<MqttPublishResult> AwaitDrainedAsync(Task drained, CancellationToken cancellationToken)
    {
        await drained.WaitAsync(cancellationToken).ConfigureAwait(false);
        return MqttPublishResult.Queued;
    }

    private async ValueTask<MqttPublishResult> PublishQos0WhenConnectedAsync(PooledBufferWriter packet, CancellationToken cancellationToken)
    {
        using (packet)
        {
            while (true)
            {
                await WaitUntilConnectedAsync(cancellationToken).ConfigureAwait(false);
                lock (_lock)
                {
                    ThrowIfClosed();
                    if (_connection is { IsClosed: false } connection)
                    {
                        CheckPacketSize(connection, packet.WrittenCount);
                        connection.Output.Write(packet.WrittenSpan);
                        connection.RequestWrite();
                        return MqttPublishResult.Queued;
                    }
                }
            }
        }
    }

    private ValueTask<MqttPublishResult> PublishQos1(ReadOnlySpan<byte> topic, ReadOnlySpan<byte> payload, bool retain, CancellationToken cancellationToken)
    {
        var size = PublishPacketSize(topic.Length, payload.Length, MqttQualityOfService.AtLeastOnce);
        lock (_lock)
        {
            ThrowIfClosed();
            if (_connection is { } connection)
            {
                CheckPacketSize(connection, size);
            }
        }

        // Encoded now (the spans do not outlive this call) with a placeholder id, patched once the window admits it.
        var pending = new PendingPublish(size, _options.InlinePublishCompletions);
        MqttPacketEncoder.WritePublish(pending.Writer, topic, payload, MqttQualityOfService.AtLeastOnce, retain, dup: false, packetId: 1, _version);
        bool acquired;
        try
        {
            acquired = _window.TryAcquire();
        }
        catch (Exception ex)
        {
            pending.ReleaseBuffer();
            throw ClosedException(ex);
        }

        if (acquired)
        {
            pending.RegisterCancellation(cancellationToken);
            Submit(pending, topic.Length);
            return new ValueTask<MqttPublishResult>(pending, pending.Version);
        }

        return PublishQos1WhenWindowOpensAsync(pending, topic.Length, cancellationToken);
    }

    private async ValueTask<MqttPublishResult> PublishQos1WhenWindowOpensAsync(PendingPublish pending, int topicLength, CancellationToken cancellationToken)
    {
        try
        {
            await _window.AcquireAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            pending.ReleaseBuffer();
            throw;
        }
        catch (Exception ex)
        {
            pending.ReleaseBuffer();
            throw ClosedException(ex);
        }

        pending.RegisterCancellation(cancellationToken);
        Submit(pending, topicLength);
        return await new ValueTask<MqttPublishResult>(pending, pending.Version).ConfigureAwait(false);
    }

    /// <summary>Gives an admitted publish its packet id and queues it (or leaves it for the next connection).</summary>
    private void Submit(PendingPublish pending, int topicLength)
    {
        Exception? closed = null;
        lock (_lock)
        {
            if (_closedReason is not null)
            {
                closed = ClosedException(_closedReason);
                pending.ReleaseBuffer();
            }
            else
            {
                pending.SetPacketId(NextPacketId(), topicLength);
                pending.Sequence = ++_sequence;
                _inflight.Add(pending.PacketId, pending);
                if (_connection is { IsClosed: false } connection)
                {
                    connection.Output.Write(pending.Packet);
                    pending.Sent = true;
                    connection.RequestWrite();
                }
            }
        }

        if (closed is not null)
        {
            _window.Release();
            pending.TrySetException(closed);
        }
    }

    private void OnPubAck(ushort packetId, byte reasonCode, string? reasonString)
    {
        PendingPublish? pending;
        lock (_lock)
        {
            if (_inflight.Remove(packetId, out pending))
            {
                pending.ReleaseBuffer();
            }
        }

        if (pending is null)
        {
            MqttClientLog.UnknownPacketId(_logger, MqttPacketType.PubAck, packetId);
            return;
        }

        _window.Release();
        pending.TrySetResult(new MqttPublishResult(reasonCode, reasonString));
    }

    /// <summary>Under the lock.</summary>
    private void ThrowIfClosed()
    {
        if (_closedReason is { } reason)
        {
            throw ClosedException(reason);
        }
    }

    private int PublishPacketSize(int topicLength, int payloadLength, MqttQualityOfService qos)
    {
        var remaining = MqttPacketEncoder.PublishRemainingLength(topicLength, payloadLength, qos, _version);
        if (remaining > MqttBufferReader.MaxVariableByteInteger)
        {
            throw new ArgumentException($"A PUBLISH of {remaining} bytes exceeds the MQTT limit of 268,435,455 bytes.");
        }

        return 1 + MqttBufferWriter.VariableByteIntegerSize((uint)remaining) + (int)remaining;
    }

    private static void CheckPacketSize(MqttConnection connection, int size)
    {
        if (size > connection.BrokerMaximumPacketSize)
        {
            throw new ArgumentException($"A PUBLISH of {size} bytes exceeds the broker's Maximum Packet Size of {connection.BrokerMaximumPacketSize} bytes.");
        }
    }

    private static void ValidateTopicName(ReadOnlySpan<byte> topicUtf8)
    {
        if (topicUtf8.IsEmpty || topicUtf8.Length > ushort.MaxValue)
        {
            throw new ArgumentException("A topic name must be 1 to 65535 bytes long.", nameof(topicUtf8));
        }

        // [MQTT-3.3.2-2]: wildcards are for filters only.
        if (topicUtf8.IndexOfAny((byte)'+', (byte)'#') >= 0)
        {
            throw new ArgumentException("A topic name must not contain wildcards.", nameof(topicUtf8));
        }
    }
}
