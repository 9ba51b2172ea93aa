using Fleet.Mqtt.Protocol;

namespace Fleet.Mqtt.Client;

public sealed partial class MqttClient
{
    public Task<MqttSubscribeResult> SubscribeAsync(string topicFilter, MqttQualityOfService maximumQoS = MqttQualityOfService.AtLeastOnce, CancellationToken cancellationToken = default)
        => SubscribeAsync([new MqttSubscription(topicFilter, maximumQoS)], cancellationToken);

    /// <summary>
    /// Subscribes (shared subscriptions are plain filters: <c>$share/group/filter</c>). Granted filters are remembered and
    /// resubscribed whenever the broker reports no session. Throws <see cref="MqttSubscribeException"/> if any filter was
    /// rejected. Survives reconnects: an unanswered SUBSCRIBE is resent.
    /// </summary>
    public async Task<MqttSubscribeResult> SubscribeAsync(IReadOnlyList<MqttSubscription> subscriptions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subscriptions);
        if (subscriptions.Count == 0)
        {
            throw new ArgumentException("At least one subscription is needed.", nameof(subscriptions));
        }

        foreach (var subscription in subscriptions)
        {
            ArgumentException.ThrowIfNullOrEmpty(subscription.TopicFilter);
            if (subscription.MaximumQoS > MqttQualityOfService.AtLeastOnce)
            {
                throw new NotSupportedException("This client subscribes at QoS 0 and 1 only.");
            }
        }

        var snapshot = subscriptions.ToArray();
        PendingRequest request;
        lock (_lock)
        {
            ThrowIfClosed();
            var packetId = NextPacketId();
            request = new PendingRequest(packetId, EncodeToArray(new SubscribePacket(packetId, snapshot)), snapshot, null, isInternal: false);
            Enqueue(request);
        }

        var ack = (SubAckPacket)await request.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (ack.ReasonCodes.Any(code => code >= 0x80))
        {
            throw new MqttSubscribeException(snapshot.Select(s => s.TopicFilter).ToArray(), ack.ReasonCodes);
        }

        return new MqttSubscribeResult(ack.ReasonCodes);
    }

    public Task UnsubscribeAsync(string topicFilter, CancellationToken cancellationToken = default)
        => UnsubscribeAsync([topicFilter], cancellationToken);

    /// <summary>Unsubscribes; the filters are forgotten at once, so a reconnect never resubscribes them.</summary>
    public async Task UnsubscribeAsync(IReadOnlyList<string> topicFilters, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(topicFilters);
        if (topicFilters.Count == 0)
        {
            throw new ArgumentException("At least one topic filter is needed.", nameof(topicFilters));
        }

        var snapshot = topicFilters.ToArray();
        PendingRequest request;
        lock (_lock)
        {
            ThrowIfClosed();
            var packetId = NextPacketId();
            request = new PendingRequest(packetId, EncodeToArray(new UnsubscribePacket(packetId, snapshot)), null, snapshot, isInternal: false);
            foreach (var filter in snapshot)
            {
                _subscriptions.Remove(filter);
            }

            Enqueue(request);
        }

        await request.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Under the lock.</summary>
    private void Enqueue(PendingRequest request)
    {
        _requests.Add(request.PacketId, request);
        if (_connection is { IsClosed: false } connection)
        {
            connection.Output.Write(request.Packet);
            connection.RequestWrite();
        }
    }

    private void OnSubAck(SubAckPacket ack)
    {
        PendingRequest? request;
        lock (_lock)
        {
            if (!_requests.Remove(ack.PacketId, out request) || request.Subscriptions is null)
            {
                request = null;
            }
            else
            {
                if (ack.ReasonCodes.Count != request.Subscriptions.Count)
                {
                    // The request is out of _requests now, so nothing else will ever complete it: fail it here, or
                    // its subscriber waits forever while the connection is torn down for the violation.
                    var violation = new MqttProtocolException("MQTT-3.8.4-6", $"SUBACK carries {ack.ReasonCodes.Count} codes for {request.Subscriptions.Count} filters.") { ReasonCode = 0x82 };
                    request.TrySetException(violation);
                    throw violation;
                }

                for (var i = 0; i < ack.ReasonCodes.Count; i++)
                {
                    var subscription = request.Subscriptions[i];
                    if (ack.ReasonCodes[i] < 0x80)
                    {
                        _subscriptions[subscription.TopicFilter] = subscription;
                    }
                    else if (request.IsInternal)
                    {
                        _subscriptions.Remove(subscription.TopicFilter);
                    }
                }
            }
        }

        if (request is null)
        {
            MqttClientLog.UnknownPacketId(_logger, MqttPacketType.SubAck, ack.PacketId);
            return;
        }

        if (request.IsInternal)
        {
            for (var i = 0; i < ack.ReasonCodes.Count; i++)
            {
                if (ack.ReasonCodes[i] >= 0x80)
                {
                    MqttClientLog.SubscriptionRejected(_logger, request.Subscriptions![i].TopicFilter, ack.ReasonCodes[i], MqttReasonCodes.GetName(ack.ReasonCodes[i]));
                }
            }
        }

        request.TrySetResult(ack);
    }

    private void OnUnsubAck(UnsubAckPacket ack)
    {
        PendingRequest? request;
        lock (_lock)
        {
            if (!_requests.Remove(ack.PacketId, out request) || request.Unsubscriptions is null)
            {
                request = null;
            }
        }

        if (request is null)
        {
            MqttClientLog.UnknownPacketId(_logger, MqttPacketType.UnsubAck, ack.PacketId);
            return;
        }

        request.TrySetResult(ack);
    }
}
