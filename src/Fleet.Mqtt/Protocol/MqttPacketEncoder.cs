using System.Buffers;

namespace Fleet.Mqtt.Protocol;

/// <summary>Encodes control packets exactly as the specification lays them out.</summary>
/// <remarks>
/// A packet the spec forbids a sender to send (a 3.1.1 CONNECT with a password but no user name [MQTT-3.1.2-22],
/// a QoS 1 PUBLISH with packet id 0, a topic name with wildcards, 5.0-only fields in a 3.1.1 packet, a string
/// containing U+0000 or an unpaired surrogate, ...) throws <see cref="ArgumentException"/>: it is the caller's bug,
/// not a peer's protocol error, and nothing is written to <c>writer</c>.
/// 5.0 properties are written in the order the spec's sections list them, and omitted when null or empty.
/// </remarks>
public static class MqttPacketEncoder
{
    public static void Encode(IBufferWriter<byte> writer, MqttPacket packet, MqttProtocolVersion version)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(packet);
        ThrowIfUnknownVersion(version);

        // Pass 1 measures (and validates) the body; pass 2 writes it into exactly that many bytes.
        var measuring = MqttBufferWriter.CreateMeasuring();
        var firstByte = WriteBody(ref measuring, packet, version);
        var remainingLength = measuring.Written;
        if (remainingLength > MqttBufferReader.MaxVariableByteInteger)
        {
            throw new ArgumentException($"{packet.Type} of {remainingLength} bytes exceeds the largest remaining length, 268,435,455 bytes.", nameof(packet));
        }

        var total = 1 + MqttBufferWriter.VariableByteIntegerSize((uint)remainingLength) + remainingLength;
        var output = new MqttBufferWriter(writer.GetSpan(total)[..total]);
        output.WriteByte(firstByte);
        output.WriteVariableByteInteger((uint)remainingLength);
        WriteBody(ref output, packet, version);
        if (output.Written != total)
        {
            throw new InvalidOperationException($"Encoder wrote {output.Written} bytes for a {packet.Type} measured at {total}.");
        }

        writer.Advance(total);
    }

    /// <summary>Hot path: a PUBACK with reason Success, written without allocating (identical bytes in 3.1.1 and 5.0).</summary>
    public static void WritePubAck(IBufferWriter<byte> writer, ushort packetId)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentOutOfRangeException.ThrowIfZero(packetId);
        var span = writer.GetSpan(4);
        span[0] = 0x40; // PUBACK, flags 0000
        span[1] = 0x02; // remaining length: just the packet id (5.0 short form for Success, §3.4.2.1)
        span[2] = (byte)(packetId >> 8);
        span[3] = (byte)packetId;
        writer.Advance(4);
    }

    /// <summary>Hot path: a PUBLISH written straight from spans, without a <see cref="PublishPacket"/> object.</summary>
    public static void WritePublish(IBufferWriter<byte> writer, ReadOnlySpan<byte> topicUtf8, ReadOnlySpan<byte> payload, MqttQualityOfService qos, bool retain, bool dup, ushort packetId, MqttProtocolVersion version)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ThrowIfUnknownVersion(version);
        ValidatePublishHeader(qos, dup, packetId);
        if (topicUtf8.IsEmpty)
        {
            // Without properties there can be no Topic Alias, so the topic name is required.
            throw new ArgumentException("PUBLISH needs a topic name [MQTT-4.7.3-1].", nameof(topicUtf8));
        }

        if (topicUtf8.IndexOfAny((byte)'+', (byte)'#') >= 0)
        {
            throw new ArgumentException("A PUBLISH topic name must not contain wildcards [MQTT-3.3.2-2].", nameof(topicUtf8));
        }

        var remainingLength = PublishRemainingLength(topicUtf8.Length, payload.Length, qos, version);
        if (remainingLength > MqttBufferReader.MaxVariableByteInteger)
        {
            throw new ArgumentException($"PUBLISH of {remainingLength} bytes exceeds the largest remaining length, 268,435,455 bytes.", nameof(payload));
        }

        var total = 1 + MqttBufferWriter.VariableByteIntegerSize((uint)remainingLength) + (int)remainingLength;
        var output = new MqttBufferWriter(writer.GetSpan(total)[..total]);
        output.WriteByte(PublishFirstByte(qos, retain, dup));
        output.WriteVariableByteInteger((uint)remainingLength);
        output.WriteUtf8EncodedString(topicUtf8);
        if (qos != MqttQualityOfService.AtMostOnce)
        {
            output.WriteTwoByteInteger(packetId);
        }

        if (version == MqttProtocolVersion.V500)
        {
            output.WriteByte(0); // Property Length 0: no properties
        }

        output.WriteBytes(payload);
        writer.Advance(total);
    }

    /// <summary>Remaining length of a property-less PUBLISH as <see cref="WritePublish"/> lays it out (3.3.2).</summary>
    internal static long PublishRemainingLength(int topicLength, int payloadLength, MqttQualityOfService qos, MqttProtocolVersion version)
        => 2L + topicLength + (qos == MqttQualityOfService.AtMostOnce ? 0 : 2) + (version == MqttProtocolVersion.V500 ? 1 : 0) + payloadLength;

    private static byte WriteBody(ref MqttBufferWriter writer, MqttPacket packet, MqttProtocolVersion version) => packet switch
    {
        ConnectPacket connect => WriteConnect(ref writer, connect, version),
        ConnAckPacket connAck => WriteConnAck(ref writer, connAck, version),
        PublishPacket publish => WritePublishBody(ref writer, publish, version),
        PubAckPacket pubAck => WritePubAckBody(ref writer, pubAck, version),
        SubscribePacket subscribe => WriteSubscribe(ref writer, subscribe, version),
        SubAckPacket subAck => WriteSubAck(ref writer, subAck, version),
        UnsubscribePacket unsubscribe => WriteUnsubscribe(ref writer, unsubscribe, version),
        UnsubAckPacket unsubAck => WriteUnsubAck(ref writer, unsubAck, version),
        PingReqPacket => 0xC0,
        PingRespPacket => 0xD0,
        DisconnectPacket disconnect => WriteDisconnect(ref writer, disconnect, version),
        _ => throw new ArgumentException($"{packet.GetType().Name} cannot be encoded.", nameof(packet)),
    };

    private static byte WriteConnect(ref MqttBufferWriter writer, ConnectPacket packet, MqttProtocolVersion version)
    {
        if (packet.ProtocolVersion != version)
        {
            throw new ArgumentException($"CONNECT says protocol version {packet.ProtocolVersion} but is being encoded as {version}.", nameof(packet));
        }

        var will = packet.Will;
        if (version == MqttProtocolVersion.V311)
        {
            if (packet.Password is not null && packet.Username is null)
            {
                throw new ArgumentException("MQTT 3.1.1 does not allow a password without a user name [MQTT-3.1.2-22].", nameof(packet));
            }

            Require311(packet.SessionExpiryInterval is null && packet.ReceiveMaximum is null && packet.MaximumPacketSize is null
                && packet.TopicAliasMaximum is null && packet.UserProperties.Count == 0 && will?.DelayInterval is null, "CONNECT");
        }
        else if (packet.ReceiveMaximum == 0 || packet.MaximumPacketSize == 0)
        {
            throw new ArgumentException("Receive Maximum and Maximum Packet Size must not be 0 (5.0 §3.1.2.11).", nameof(packet));
        }

        if (will is not null)
        {
            ThrowIfInvalidQoS(will.QoS);
            if (will.Topic.Length == 0 || will.Topic.AsSpan().IndexOfAny('+', '#') >= 0)
            {
                throw new ArgumentException("The Will Topic must be a non-empty topic name without wildcards.", nameof(packet));
            }
        }

        // 3.1.2 / 5.0 §3.1.2: protocol name, level, connect flags, keep alive.
        writer.WriteUtf8EncodedString("MQTT");
        writer.WriteByte((byte)version);
        var flags = (packet.CleanStart ? 0x02 : 0)
            | (will is null ? 0 : 0x04 | ((int)will.QoS << 3) | (will.Retain ? 0x20 : 0))
            | (packet.Password is null ? 0 : 0x40)
            | (packet.Username is null ? 0 : 0x80);
        writer.WriteByte((byte)flags);
        writer.WriteTwoByteInteger(packet.KeepAliveSeconds);
        if (version == MqttProtocolVersion.V500)
        {
            var measuring = MqttBufferWriter.CreateMeasuring();
            WriteConnectProperties(ref measuring, packet);
            writer.WriteVariableByteInteger((uint)measuring.Written);
            WriteConnectProperties(ref writer, packet);
        }

        // Payload, §3.1.3: client id, will properties/topic/payload, user name, password.
        writer.WriteUtf8EncodedString(packet.ClientId);
        if (will is not null)
        {
            if (version == MqttProtocolVersion.V500)
            {
                if (will.DelayInterval is { } delay)
                {
                    writer.WriteVariableByteInteger(5);
                    writer.WriteByte(MqttPropertyId.WillDelayInterval);
                    writer.WriteFourByteInteger(delay);
                }
                else
                {
                    writer.WriteVariableByteInteger(0);
                }
            }

            writer.WriteUtf8EncodedString(will.Topic);
            writer.WriteBinaryData(will.Payload.Span);
        }

        if (packet.Username is not null)
        {
            writer.WriteUtf8EncodedString(packet.Username);
        }

        if (packet.Password is { } password)
        {
            writer.WriteBinaryData(password.Span);
        }

        return 0x10;
    }

    private static void WriteConnectProperties(ref MqttBufferWriter writer, ConnectPacket packet)
    {
        WriteFourByteProperty(ref writer, MqttPropertyId.SessionExpiryInterval, packet.SessionExpiryInterval);
        WriteTwoByteProperty(ref writer, MqttPropertyId.ReceiveMaximum, packet.ReceiveMaximum);
        WriteFourByteProperty(ref writer, MqttPropertyId.MaximumPacketSize, packet.MaximumPacketSize);
        WriteTwoByteProperty(ref writer, MqttPropertyId.TopicAliasMaximum, packet.TopicAliasMaximum);
        WriteUserProperties(ref writer, packet.UserProperties);
    }

    private static byte WriteConnAck(ref MqttBufferWriter writer, ConnAckPacket packet, MqttProtocolVersion version)
    {
        if (packet.SessionPresent && packet.ReasonCode != 0)
        {
            throw new ArgumentException("A CONNACK that refuses the connection cannot have Session Present set.", nameof(packet));
        }

        if (version == MqttProtocolVersion.V311)
        {
            if (packet.ReasonCode > 5)
            {
                throw new ArgumentException($"3.1.1 CONNACK return code {packet.ReasonCode} is reserved.", nameof(packet));
            }

            Require311(packet.SessionExpiryInterval is null && packet.ReceiveMaximum is null && packet.MaximumQoS is null
                && packet.RetainAvailable is null && packet.MaximumPacketSize is null && packet.AssignedClientIdentifier is null
                && packet.TopicAliasMaximum is null && packet.ReasonString is null && packet.WildcardSubscriptionAvailable is null
                && packet.SubscriptionIdentifiersAvailable is null && packet.SharedSubscriptionAvailable is null
                && packet.ServerKeepAlive is null && packet.UserProperties.Count == 0, "CONNACK");
        }
        else if (packet.MaximumQoS > MqttQualityOfService.AtLeastOnce || packet.ReceiveMaximum == 0 || packet.MaximumPacketSize == 0)
        {
            throw new ArgumentException("CONNACK Maximum QoS must be 0 or 1, Receive Maximum and Maximum Packet Size non-zero (5.0 §3.2.2.3).", nameof(packet));
        }

        writer.WriteByte(packet.SessionPresent ? (byte)1 : (byte)0);
        writer.WriteByte(packet.ReasonCode);
        if (version == MqttProtocolVersion.V500)
        {
            var measuring = MqttBufferWriter.CreateMeasuring();
            WriteConnAckProperties(ref measuring, packet);
            writer.WriteVariableByteInteger((uint)measuring.Written);
            WriteConnAckProperties(ref writer, packet);
        }

        return 0x20;
    }

    private static void WriteConnAckProperties(ref MqttBufferWriter writer, ConnAckPacket packet)
    {
        WriteFourByteProperty(ref writer, MqttPropertyId.SessionExpiryInterval, packet.SessionExpiryInterval);
        WriteTwoByteProperty(ref writer, MqttPropertyId.ReceiveMaximum, packet.ReceiveMaximum);
        WriteByteProperty(ref writer, MqttPropertyId.MaximumQoS, (byte?)packet.MaximumQoS);
        WriteBooleanProperty(ref writer, MqttPropertyId.RetainAvailable, packet.RetainAvailable);
        WriteFourByteProperty(ref writer, MqttPropertyId.MaximumPacketSize, packet.MaximumPacketSize);
        WriteStringProperty(ref writer, MqttPropertyId.AssignedClientIdentifier, packet.AssignedClientIdentifier);
        WriteTwoByteProperty(ref writer, MqttPropertyId.TopicAliasMaximum, packet.TopicAliasMaximum);
        WriteStringProperty(ref writer, MqttPropertyId.ReasonString, packet.ReasonString);
        WriteUserProperties(ref writer, packet.UserProperties);
        WriteBooleanProperty(ref writer, MqttPropertyId.WildcardSubscriptionAvailable, packet.WildcardSubscriptionAvailable);
        WriteBooleanProperty(ref writer, MqttPropertyId.SubscriptionIdentifierAvailable, packet.SubscriptionIdentifiersAvailable);
        WriteBooleanProperty(ref writer, MqttPropertyId.SharedSubscriptionAvailable, packet.SharedSubscriptionAvailable);
        WriteTwoByteProperty(ref writer, MqttPropertyId.ServerKeepAlive, packet.ServerKeepAlive);
    }

    private static byte WritePublishBody(ref MqttBufferWriter writer, PublishPacket packet, MqttProtocolVersion version)
    {
        ValidatePublishHeader(packet.QoS, packet.Dup, packet.PacketId);
        if (packet.Topic.AsSpan().IndexOfAny('+', '#') >= 0)
        {
            throw new ArgumentException("A PUBLISH topic name must not contain wildcards [MQTT-3.3.2-2].", nameof(packet));
        }

        if (version == MqttProtocolVersion.V311)
        {
            Require311(packet.PayloadFormatIndicator is null && packet.MessageExpiryInterval is null && packet.TopicAlias is null
                && packet.ResponseTopic is null && packet.CorrelationData is null && packet.ContentType is null
                && packet.SubscriptionIdentifiers.Count == 0 && packet.UserProperties.Count == 0, "PUBLISH");
        }
        else if (packet.TopicAlias == 0)
        {
            throw new ArgumentException("A Topic Alias of 0 is not permitted [MQTT-3.3.2-8].", nameof(packet));
        }

        if (packet.Topic.Length == 0 && packet.TopicAlias is null)
        {
            throw new ArgumentException("PUBLISH needs a topic name, or in 5.0 a Topic Alias [MQTT-4.7.3-1].", nameof(packet));
        }

        if (packet.ResponseTopic is not null && packet.ResponseTopic.AsSpan().IndexOfAny('+', '#') >= 0)
        {
            throw new ArgumentException("A Response Topic must not contain wildcards [MQTT-3.3.2-14].", nameof(packet));
        }

        foreach (var subscriptionId in packet.SubscriptionIdentifiers)
        {
            if (subscriptionId is 0 or > MqttBufferReader.MaxVariableByteInteger)
            {
                throw new ArgumentException($"Subscription Identifier {subscriptionId} is outside 1..268,435,455.", nameof(packet));
            }
        }

        writer.WriteUtf8EncodedString(packet.Topic);
        if (packet.QoS != MqttQualityOfService.AtMostOnce)
        {
            writer.WriteTwoByteInteger(packet.PacketId);
        }

        if (version == MqttProtocolVersion.V500)
        {
            var measuring = MqttBufferWriter.CreateMeasuring();
            WritePublishProperties(ref measuring, packet);
            writer.WriteVariableByteInteger((uint)measuring.Written);
            WritePublishProperties(ref writer, packet);
        }

        writer.WriteBytes(packet.Payload.Span);
        return PublishFirstByte(packet.QoS, packet.Retain, packet.Dup);
    }

    private static void WritePublishProperties(ref MqttBufferWriter writer, PublishPacket packet)
    {
        WriteByteProperty(ref writer, MqttPropertyId.PayloadFormatIndicator, packet.PayloadFormatIndicator);
        WriteFourByteProperty(ref writer, MqttPropertyId.MessageExpiryInterval, packet.MessageExpiryInterval);
        WriteTwoByteProperty(ref writer, MqttPropertyId.TopicAlias, packet.TopicAlias);
        WriteStringProperty(ref writer, MqttPropertyId.ResponseTopic, packet.ResponseTopic);
        if (packet.CorrelationData is { } correlationData)
        {
            writer.WriteByte(MqttPropertyId.CorrelationData);
            writer.WriteBinaryData(correlationData.Span);
        }

        WriteUserProperties(ref writer, packet.UserProperties);
        foreach (var subscriptionId in packet.SubscriptionIdentifiers)
        {
            writer.WriteByte(MqttPropertyId.SubscriptionIdentifier);
            writer.WriteVariableByteInteger(subscriptionId);
        }

        WriteStringProperty(ref writer, MqttPropertyId.ContentType, packet.ContentType);
    }

    private static byte WritePubAckBody(ref MqttBufferWriter writer, PubAckPacket packet, MqttProtocolVersion version)
    {
        ThrowIfZeroPacketId(packet.PacketId, "PUBACK");
        var hasProperties = packet.ReasonString is not null || packet.UserProperties.Count > 0;
        if (version == MqttProtocolVersion.V311)
        {
            Require311(packet.ReasonCode == 0 && !hasProperties, "PUBACK");
        }

        writer.WriteTwoByteInteger(packet.PacketId);

        // 5.0 §3.4.2.1: reason code and property length may be omitted when they add nothing.
        if (version == MqttProtocolVersion.V500 && (packet.ReasonCode != 0 || hasProperties))
        {
            writer.WriteByte(packet.ReasonCode);
            if (hasProperties)
            {
                WriteAckProperties(ref writer, packet.ReasonString, packet.UserProperties);
            }
        }

        return 0x40;
    }

    private static byte WriteSubscribe(ref MqttBufferWriter writer, SubscribePacket packet, MqttProtocolVersion version)
    {
        ThrowIfZeroPacketId(packet.PacketId, "SUBSCRIBE");
        if (packet.Subscriptions.Count == 0)
        {
            throw new ArgumentException("SUBSCRIBE needs at least one topic filter [MQTT-3.8.3-3].", nameof(packet));
        }

        if (version == MqttProtocolVersion.V311)
        {
            Require311(packet.SubscriptionIdentifier is null && packet.UserProperties.Count == 0, "SUBSCRIBE");
        }
        else if (packet.SubscriptionIdentifier is 0 or > MqttBufferReader.MaxVariableByteInteger)
        {
            throw new ArgumentException($"Subscription Identifier {packet.SubscriptionIdentifier} is outside 1..268,435,455.", nameof(packet));
        }

        writer.WriteTwoByteInteger(packet.PacketId);
        if (version == MqttProtocolVersion.V500)
        {
            var measuring = MqttBufferWriter.CreateMeasuring();
            WriteSubscribeProperties(ref measuring, packet);
            writer.WriteVariableByteInteger((uint)measuring.Written);
            WriteSubscribeProperties(ref writer, packet);
        }

        foreach (var subscription in packet.Subscriptions)
        {
            ThrowIfInvalidQoS(subscription.MaximumQoS);
            ThrowIfEmptyFilter(subscription.TopicFilter);
            if (version == MqttProtocolVersion.V311)
            {
                Require311(!subscription.NoLocal && !subscription.RetainAsPublished && subscription.RetainHandling == 0, "SUBSCRIBE");
            }
            else if (subscription.RetainHandling > 2)
            {
                throw new ArgumentException($"Retain Handling {subscription.RetainHandling} is not 0, 1 or 2.", nameof(packet));
            }

            writer.WriteUtf8EncodedString(subscription.TopicFilter);
            var options = (int)subscription.MaximumQoS
                | (subscription.NoLocal ? 0x04 : 0)
                | (subscription.RetainAsPublished ? 0x08 : 0)
                | (subscription.RetainHandling << 4);
            writer.WriteByte((byte)options);
        }

        return 0x82;
    }

    private static void WriteSubscribeProperties(ref MqttBufferWriter writer, SubscribePacket packet)
    {
        if (packet.SubscriptionIdentifier is { } subscriptionId)
        {
            writer.WriteByte(MqttPropertyId.SubscriptionIdentifier);
            writer.WriteVariableByteInteger(subscriptionId);
        }

        WriteUserProperties(ref writer, packet.UserProperties);
    }

    private static byte WriteSubAck(ref MqttBufferWriter writer, SubAckPacket packet, MqttProtocolVersion version)
    {
        ThrowIfZeroPacketId(packet.PacketId, "SUBACK");
        if (packet.ReasonCodes.Count == 0)
        {
            throw new ArgumentException("SUBACK needs one reason code per topic filter.", nameof(packet));
        }

        if (version == MqttProtocolVersion.V311)
        {
            Require311(packet.ReasonString is null && packet.UserProperties.Count == 0, "SUBACK");
            foreach (var code in packet.ReasonCodes)
            {
                if (code is not (0x00 or 0x01 or 0x02 or 0x80))
                {
                    throw new ArgumentException($"3.1.1 SUBACK return code 0x{code:X2} is reserved [MQTT-3.9.3-2].", nameof(packet));
                }
            }
        }

        writer.WriteTwoByteInteger(packet.PacketId);
        if (version == MqttProtocolVersion.V500)
        {
            WriteAckProperties(ref writer, packet.ReasonString, packet.UserProperties);
        }

        foreach (var code in packet.ReasonCodes)
        {
            writer.WriteByte(code);
        }

        return 0x90;
    }

    private static byte WriteUnsubscribe(ref MqttBufferWriter writer, UnsubscribePacket packet, MqttProtocolVersion version)
    {
        ThrowIfZeroPacketId(packet.PacketId, "UNSUBSCRIBE");
        if (packet.TopicFilters.Count == 0)
        {
            throw new ArgumentException("UNSUBSCRIBE needs at least one topic filter [MQTT-3.10.3-2].", nameof(packet));
        }

        if (version == MqttProtocolVersion.V311)
        {
            Require311(packet.UserProperties.Count == 0, "UNSUBSCRIBE");
        }

        writer.WriteTwoByteInteger(packet.PacketId);
        if (version == MqttProtocolVersion.V500)
        {
            var measuring = MqttBufferWriter.CreateMeasuring();
            WriteUserProperties(ref measuring, packet.UserProperties);
            writer.WriteVariableByteInteger((uint)measuring.Written);
            WriteUserProperties(ref writer, packet.UserProperties);
        }

        foreach (var filter in packet.TopicFilters)
        {
            ThrowIfEmptyFilter(filter);
            writer.WriteUtf8EncodedString(filter);
        }

        return 0xA2;
    }

    private static byte WriteUnsubAck(ref MqttBufferWriter writer, UnsubAckPacket packet, MqttProtocolVersion version)
    {
        ThrowIfZeroPacketId(packet.PacketId, "UNSUBACK");
        if (version == MqttProtocolVersion.V311)
        {
            Require311(packet.ReasonCodes.Count == 0 && packet.ReasonString is null && packet.UserProperties.Count == 0, "UNSUBACK");
        }
        else if (packet.ReasonCodes.Count == 0)
        {
            throw new ArgumentException("A 5.0 UNSUBACK needs one reason code per topic filter.", nameof(packet));
        }

        writer.WriteTwoByteInteger(packet.PacketId);
        if (version == MqttProtocolVersion.V500)
        {
            WriteAckProperties(ref writer, packet.ReasonString, packet.UserProperties);
            foreach (var code in packet.ReasonCodes)
            {
                writer.WriteByte(code);
            }
        }

        return 0xB0;
    }

    private static byte WriteDisconnect(ref MqttBufferWriter writer, DisconnectPacket packet, MqttProtocolVersion version)
    {
        var hasProperties = packet.SessionExpiryInterval is not null || packet.ReasonString is not null || packet.ServerReference is not null;
        if (version == MqttProtocolVersion.V311)
        {
            Require311(packet.ReasonCode == 0 && !hasProperties, "DISCONNECT");
            return 0xE0;
        }

        // 5.0 §3.14.2.1: remaining length 0 means Normal disconnection; a reason alone needs no property length.
        if (packet.ReasonCode != 0 || hasProperties)
        {
            writer.WriteByte(packet.ReasonCode);
        }

        if (hasProperties)
        {
            var measuring = MqttBufferWriter.CreateMeasuring();
            WriteDisconnectProperties(ref measuring, packet);
            writer.WriteVariableByteInteger((uint)measuring.Written);
            WriteDisconnectProperties(ref writer, packet);
        }

        return 0xE0;
    }

    private static void WriteDisconnectProperties(ref MqttBufferWriter writer, DisconnectPacket packet)
    {
        WriteFourByteProperty(ref writer, MqttPropertyId.SessionExpiryInterval, packet.SessionExpiryInterval);
        WriteStringProperty(ref writer, MqttPropertyId.ReasonString, packet.ReasonString);
        WriteStringProperty(ref writer, MqttPropertyId.ServerReference, packet.ServerReference);
    }

    /// <summary>Property Length plus Reason String and User Properties, the block shared by the acknowledgements.</summary>
    private static void WriteAckProperties(ref MqttBufferWriter writer, string? reasonString, IReadOnlyList<MqttUserProperty> userProperties)
    {
        var measuring = MqttBufferWriter.CreateMeasuring();
        WriteStringProperty(ref measuring, MqttPropertyId.ReasonString, reasonString);
        WriteUserProperties(ref measuring, userProperties);
        writer.WriteVariableByteInteger((uint)measuring.Written);
        WriteStringProperty(ref writer, MqttPropertyId.ReasonString, reasonString);
        WriteUserProperties(ref writer, userProperties);
    }

    private static void WriteByteProperty(ref MqttBufferWriter writer, byte id, byte? value)
    {
        if (value is { } v)
        {
            writer.WriteByte(id);
            writer.WriteByte(v);
        }
    }

    private static void WriteBooleanProperty(ref MqttBufferWriter writer, byte id, bool? value)
        => WriteByteProperty(ref writer, id, value is null ? null : value.Value ? (byte)1 : (byte)0);

    private static void WriteTwoByteProperty(ref MqttBufferWriter writer, byte id, ushort? value)
    {
        if (value is { } v)
        {
            writer.WriteByte(id);
            writer.WriteTwoByteInteger(v);
        }
    }

    private static void WriteFourByteProperty(ref MqttBufferWriter writer, byte id, uint? value)
    {
        if (value is { } v)
        {
            writer.WriteByte(id);
            writer.WriteFourByteInteger(v);
        }
    }

    private static void WriteStringProperty(ref MqttBufferWriter writer, byte id, string? value)
    {
        if (value is not null)
        {
            writer.WriteByte(id);
            writer.WriteUtf8EncodedString(value);
        }
    }

    private static void WriteUserProperties(ref MqttBufferWriter writer, IReadOnlyList<MqttUserProperty> userProperties)
    {
        foreach (var property in userProperties)
        {
            writer.WriteByte(MqttPropertyId.UserProperty);
            writer.WriteUtf8StringPair(property.Name, property.Value);
        }
    }

    private static byte PublishFirstByte(MqttQualityOfService qos, bool retain, bool dup)
        => (byte)(0x30 | (dup ? 0x08 : 0) | ((int)qos << 1) | (retain ? 0x01 : 0));

    private static void ValidatePublishHeader(MqttQualityOfService qos, bool dup, ushort packetId)
    {
        ThrowIfInvalidQoS(qos);
        if (qos == MqttQualityOfService.AtMostOnce)
        {
            if (dup)
            {
                throw new ArgumentException("A QoS 0 PUBLISH must not set DUP [MQTT-3.3.1-2].", nameof(dup));
            }

            if (packetId != 0)
            {
                throw new ArgumentException("A QoS 0 PUBLISH has no packet identifier [MQTT-2.2.1-2].", nameof(packetId));
            }
        }
        else
        {
            ThrowIfZeroPacketId(packetId, "PUBLISH");
        }
    }

    private static void ThrowIfInvalidQoS(MqttQualityOfService qos)
    {
        if (qos > MqttQualityOfService.ExactlyOnce)
        {
            throw new ArgumentException($"QoS {(int)qos} does not exist.", nameof(qos));
        }
    }

    private static void ThrowIfZeroPacketId(ushort packetId, string packetName)
    {
        if (packetId == 0)
        {
            throw new ArgumentException($"{packetName} needs a non-zero packet identifier [MQTT-2.2.1-3].", nameof(packetId));
        }
    }

    private static void ThrowIfEmptyFilter(string filter)
    {
        if (string.IsNullOrEmpty(filter))
        {
            throw new ArgumentException("A topic filter must be at least one character long [MQTT-4.7.3-1].", nameof(filter));
        }
    }

    private static void Require311(bool representable, string packetName)
    {
        if (!representable)
        {
            throw new ArgumentException($"This {packetName} uses MQTT 5.0 fields (reason codes or properties) that MQTT 3.1.1 cannot carry.", nameof(packetName));
        }
    }

    private static void ThrowIfUnknownVersion(MqttProtocolVersion version)
    {
        if (version is not (MqttProtocolVersion.V311 or MqttProtocolVersion.V500))
        {
            throw new ArgumentException($"Unknown protocol version {version}.", nameof(version));
        }
    }
}
