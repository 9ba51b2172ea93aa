using System.Buffers;

namespace Fleet.Mqtt.Protocol;

/// <summary>Decodes control packets. Every malformed input throws <see cref="MqttProtocolException"/>.</summary>
/// <remarks>
/// Arguments that no peer controls (an undefined <see cref="MqttProtocolVersion"/>, a non-positive maximum packet size,
/// a header of another type passed to <see cref="DecodePublish"/>) throw <see cref="ArgumentException"/> instead.
/// A CONNECT is decoded by the protocol level it carries, not by the version passed in, because it is what sets the version.
/// QoS 2 (PUBREC, PUBREL, PUBCOMP) and AUTH are not supported: this client never uses them, so receiving one is a protocol error.
/// </remarks>
public static class MqttPacketDecoder
{
    /// <summary>
    /// Reads the fixed header at the start of <paramref name="buffer"/>. Returns false when more bytes are needed
    /// for the header itself. Throws before any body is buffered when the remaining length is malformed
    /// (more than 4 bytes, [MQTT-1.5.5-1]) or the packet would exceed <paramref name="maximumPacketSize"/>.
    /// </summary>
    public static bool TryReadFixedHeader(in ReadOnlySequence<byte> buffer, int maximumPacketSize, out MqttFixedHeader header)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maximumPacketSize);
        header = default;
        if (buffer.IsEmpty)
        {
            return false;
        }

        // A fixed header is at most 5 bytes; gather them into one span if the sequence splits them.
        Span<byte> scratch = stackalloc byte[5];
        scoped ReadOnlySpan<byte> head = buffer.FirstSpan;
        if (head.Length < 5 && !buffer.IsSingleSegment)
        {
            var available = (int)Math.Min(5, buffer.Length);
            buffer.Slice(0, available).CopyTo(scratch);
            head = scratch[..available];
        }

        var firstByte = head[0];
        var type = ValidateFirstByte(firstByte);
        var status = MqttBufferReader.TryParseVariableByteInteger(head[1..], out var remainingLength, out var lengthBytes);
        if (status == MqttBufferReader.VariableByteIntegerStatus.Incomplete)
        {
            return false;
        }

        MqttBufferReader.ThrowIfMalformed(status);
        var headerLength = 1 + lengthBytes;

        // Checked here, before the caller buffers the body, so a hostile length costs nothing.
        if ((long)headerLength + remainingLength > maximumPacketSize)
        {
            throw new MqttProtocolException(
                "MQTT-3.1.2-24",
                $"{type} packet of {headerLength + (long)remainingLength} bytes exceeds the maximum packet size of {maximumPacketSize} bytes")
            {
                ReasonCode = 0x95, // Packet too large
            };
        }

        header = new MqttFixedHeader(type, (byte)(firstByte & 0x0F), remainingLength, headerLength);
        return true;
    }

    /// <summary>Decodes the packet whose fixed header is <paramref name="header"/> from its body (the remaining-length bytes).</summary>
    public static MqttPacket Decode(in MqttFixedHeader header, ReadOnlySpan<byte> body, MqttProtocolVersion version)
    {
        ValidateHeaderAndBody(header, body, version);
        var reader = new MqttBufferReader(body, version);
        return header.Type switch
        {
            MqttPacketType.Connect => DecodeConnect(body, version),
            MqttPacketType.ConnAck => DecodeConnAck(ref reader),
            MqttPacketType.Publish => DecodePublishPacket(header, body, version),
            MqttPacketType.PubAck => DecodePubAck(ref reader),
            MqttPacketType.PubRec or MqttPacketType.PubRel or MqttPacketType.PubComp => throw new MqttProtocolException(
                reader.Clause("5.0 §4.3.3", "3.1.1 §4.3.3"),
                $"{header.Type} belongs to the QoS 2 flow, which is unsupported: this client subscribes at most at QoS 1")
            {
                ReasonCode = 0x82,
            },
            MqttPacketType.Subscribe => DecodeSubscribe(ref reader),
            MqttPacketType.SubAck => DecodeSubAck(ref reader),
            MqttPacketType.Unsubscribe => DecodeUnsubscribe(ref reader),
            MqttPacketType.UnsubAck => DecodeUnsubAck(ref reader),
            MqttPacketType.PingReq => DecodeEmpty(ref reader, PingReqPacket.Instance),
            MqttPacketType.PingResp => DecodeEmpty(ref reader, PingRespPacket.Instance),
            MqttPacketType.Disconnect => DecodeDisconnect(ref reader),
            _ => throw new MqttProtocolException("5.0 §4.12", "AUTH (enhanced authentication) is unsupported; the client never requests it") { ReasonCode = 0x82 },
        };
    }

    /// <summary>Decodes a PUBLISH body into a view over <paramref name="body"/>, allocating nothing.</summary>
    public static MqttPublishView DecodePublish(in MqttFixedHeader header, ReadOnlySpan<byte> body, MqttProtocolVersion version)
    {
        if (header.Type != MqttPacketType.Publish)
        {
            throw new ArgumentException("DecodePublish needs a PUBLISH fixed header.", nameof(header));
        }

        ValidateHeaderAndBody(header, body, version);
        return ReadPublish(header, body, version, out _);
    }

    /// <summary>
    /// Checks the first byte of a fixed header: a defined type, and the flag bits that type requires
    /// (5.0 §2.1.3 Table 2-2, 3.1.1 §2.2.2 Table 2.2).
    /// </summary>
    internal static MqttPacketType ValidateFirstByte(byte firstByte)
    {
        var type = (MqttPacketType)(firstByte >> 4);
        var flags = firstByte & 0x0F;
        switch (type)
        {
            case 0:
                throw new MqttProtocolException("5.0 §2.1.2", "Control packet type 0 is reserved");
            case MqttPacketType.Publish:
                if ((flags & 0b0110) == 0b0110)
                {
                    throw new MqttProtocolException("MQTT-3.3.1-4", "PUBLISH has both QoS bits set");
                }

                break;
            case MqttPacketType.PubRel:
            case MqttPacketType.Subscribe:
            case MqttPacketType.Unsubscribe:
                if (flags != 0b0010)
                {
                    throw new MqttProtocolException("MQTT-2.1.3-1", $"{type} fixed header flags must be 0010, not {Convert.ToString(flags, 2).PadLeft(4, '0')}");
                }

                break;
            default:
                if (flags != 0)
                {
                    throw new MqttProtocolException("MQTT-2.1.3-1", $"{type} fixed header flags are reserved and must be 0000, not {Convert.ToString(flags, 2).PadLeft(4, '0')}");
                }

                break;
        }

        return type;
    }

    private static void ValidateHeaderAndBody(in MqttFixedHeader header, ReadOnlySpan<byte> body, MqttProtocolVersion version)
    {
        if (version is not (MqttProtocolVersion.V311 or MqttProtocolVersion.V500))
        {
            throw new ArgumentException($"Unknown protocol version {version}.", nameof(version));
        }

        if ((byte)header.Type > 15 || header.Flags > 15)
        {
            throw new ArgumentException("The fixed header's type and flags must each fit in four bits.", nameof(header));
        }

        ValidateFirstByte((byte)(((byte)header.Type << 4) | header.Flags));
        if (header.Type == MqttPacketType.Auth && version == MqttProtocolVersion.V311)
        {
            throw new MqttProtocolException("3.1.1 §2.2.1", "Control packet type 15 is reserved in MQTT 3.1.1");
        }

        if (body.Length != header.RemainingLength)
        {
            throw new MqttProtocolException(
                version == MqttProtocolVersion.V311 ? "3.1.1 §2.2.3" : "5.0 §2.1.4",
                $"{header.Type} body has {body.Length} bytes but the remaining length is {header.RemainingLength}");
        }
    }

    private static ushort ReadNonZeroPacketId(ref MqttBufferReader reader, string packetName, bool identifiesNewPacket)
    {
        var packetId = reader.ReadTwoByteInteger();
        if (packetId == 0)
        {
            // SUBSCRIBE, UNSUBSCRIBE and QoS>0 PUBLISH must carry a non-zero id; an acknowledgement echoes one, so it cannot be 0 either.
            var clause = identifiesNewPacket
                ? reader.Clause("MQTT-2.2.1-3", "MQTT-2.3.1-1")
                : reader.Clause("5.0 §2.2.1", "3.1.1 §2.3.1");
            throw new MqttProtocolException(clause, $"{packetName} has Packet Identifier 0") { ReasonCode = 0x82 };
        }

        return packetId;
    }

    private static MqttPublishView ReadPublish(in MqttFixedHeader header, ReadOnlySpan<byte> body, MqttProtocolVersion version, out ReadOnlySpan<byte> propertyBlock)
    {
        var qos = (MqttQualityOfService)((header.Flags >> 1) & 0b11);
        var dup = (header.Flags & 0b1000) != 0;
        var retain = (header.Flags & 0b0001) != 0;
        if (dup && qos == MqttQualityOfService.AtMostOnce)
        {
            throw new MqttProtocolException("MQTT-3.3.1-2", "QoS 0 PUBLISH has the DUP flag set");
        }

        var reader = new MqttBufferReader(body, version);
        var topic = reader.ReadUtf8EncodedStringBytes();
        if (topic.IndexOfAny((byte)'+', (byte)'#') >= 0)
        {
            throw new MqttProtocolException("MQTT-3.3.2-2", "PUBLISH Topic Name contains a wildcard character");
        }

        ushort packetId = 0;
        if (qos != MqttQualityOfService.AtMostOnce)
        {
            packetId = ReadNonZeroPacketId(ref reader, "PUBLISH", identifiesNewPacket: true);
        }

        ushort topicAlias = 0;
        propertyBlock = default;
        if (version == MqttProtocolVersion.V500)
        {
            var start = reader.Position;
            var properties = MqttPropertyReader.Begin(ref reader, MqttPropertyContext.Publish);
            propertyBlock = body[start..reader.Position];
            while (properties.TryRead(out var property))
            {
                if (property.Id == MqttPropertyId.TopicAlias)
                {
                    topicAlias = (ushort)property.Number;
                }
            }
        }

        if (topic.IsEmpty && topicAlias == 0)
        {
            throw version == MqttProtocolVersion.V311
                ? new MqttProtocolException("MQTT-4.7.3-1", "PUBLISH Topic Name is empty")
                : new MqttProtocolException("5.0 §3.3.2.3.4", "PUBLISH Topic Name is empty and there is no Topic Alias") { ReasonCode = 0x82 };
        }

        return new MqttPublishView(topic, reader.ReadToEnd(), qos, retain, dup, packetId, topicAlias);
    }

    private static PublishPacket DecodePublishPacket(in MqttFixedHeader header, ReadOnlySpan<byte> body, MqttProtocolVersion version)
    {
        var view = ReadPublish(header, body, version, out var propertyBlock);
        var packet = new PublishPacket(System.Text.Encoding.UTF8.GetString(view.TopicUtf8), view.Payload.ToArray())
        {
            QoS = view.QoS,
            Retain = view.Retain,
            Dup = view.Dup,
            PacketId = view.PacketId,
        };

        if (version == MqttProtocolVersion.V311)
        {
            return packet;
        }

        // ReadPublish has validated the block already; this pass only materialises the values.
        var blockReader = new MqttBufferReader(propertyBlock, version);
        var properties = MqttPropertyReader.Begin(ref blockReader, MqttPropertyContext.Publish);
        List<uint>? subscriptionIds = null;
        List<MqttUserProperty>? userProperties = null;
        while (properties.TryRead(out var property))
        {
            switch (property.Id)
            {
                case MqttPropertyId.PayloadFormatIndicator:
                    packet = packet with { PayloadFormatIndicator = (byte)property.Number };
                    break;
                case MqttPropertyId.MessageExpiryInterval:
                    packet = packet with { MessageExpiryInterval = property.Number };
                    break;
                case MqttPropertyId.TopicAlias:
                    packet = packet with { TopicAlias = (ushort)property.Number };
                    break;
                case MqttPropertyId.ResponseTopic:
                    packet = packet with { ResponseTopic = property.GetString() };
                    break;
                case MqttPropertyId.CorrelationData:
                    packet = packet with { CorrelationData = property.Data.ToArray() };
                    break;
                case MqttPropertyId.ContentType:
                    packet = packet with { ContentType = property.GetString() };
                    break;
                case MqttPropertyId.SubscriptionIdentifier:
                    (subscriptionIds ??= []).Add(property.Number);
                    break;
                case MqttPropertyId.UserProperty:
                    (userProperties ??= []).Add(property.GetUserProperty());
                    break;
                default:
                    break;
            }
        }

        return packet with
        {
            SubscriptionIdentifiers = subscriptionIds ?? (IReadOnlyList<uint>)[],
            UserProperties = userProperties ?? (IReadOnlyList<MqttUserProperty>)[],
        };
    }

    private static ConnectPacket DecodeConnect(ReadOnlySpan<byte> body, MqttProtocolVersion sessionVersion)
    {
        var head = new MqttBufferReader(body, sessionVersion);
        var protocolName = head.ReadUtf8EncodedStringBytes();
        if (!protocolName.SequenceEqual("MQTT"u8))
        {
            throw new MqttProtocolException("MQTT-3.1.2-1", "CONNECT protocol name is not \"MQTT\"") { ReasonCode = 0x84 };
        }

        var level = head.ReadByte();
        if (level is not ((byte)MqttProtocolVersion.V311 or (byte)MqttProtocolVersion.V500))
        {
            throw new MqttProtocolException("MQTT-3.1.2-2", $"CONNECT protocol level {level} is not supported (4 = 3.1.1, 5 = 5.0)") { ReasonCode = 0x84 };
        }

        var version = (MqttProtocolVersion)level;
        var reader = new MqttBufferReader(body[head.Position..], version);
        var flags = reader.ReadByte();
        if ((flags & 0x01) != 0)
        {
            throw new MqttProtocolException("MQTT-3.1.2-3", "CONNECT reserved flag is not 0");
        }

        var cleanStart = (flags & 0x02) != 0;
        var willFlag = (flags & 0x04) != 0;
        var willQoS = (flags >> 3) & 0b11;
        var willRetain = (flags & 0x20) != 0;
        var passwordFlag = (flags & 0x40) != 0;
        var usernameFlag = (flags & 0x80) != 0;
        if (!willFlag && willQoS != 0)
        {
            throw new MqttProtocolException(reader.Clause("MQTT-3.1.2-11", "MQTT-3.1.2-13"), "CONNECT has a Will QoS but no Will Flag");
        }

        if (!willFlag && willRetain)
        {
            throw new MqttProtocolException(reader.Clause("MQTT-3.1.2-13", "MQTT-3.1.2-15"), "CONNECT has Will Retain but no Will Flag");
        }

        if (willQoS == 3)
        {
            throw new MqttProtocolException(reader.Clause("MQTT-3.1.2-12", "MQTT-3.1.2-14"), "CONNECT Will QoS is 3");
        }

        if (version == MqttProtocolVersion.V311 && passwordFlag && !usernameFlag)
        {
            throw new MqttProtocolException("MQTT-3.1.2-22", "CONNECT has a Password Flag without a User Name Flag");
        }

        var keepAlive = reader.ReadTwoByteInteger();
        uint? sessionExpiry = null;
        ushort? receiveMaximum = null;
        uint? maximumPacketSize = null;
        ushort? topicAliasMaximum = null;
        List<MqttUserProperty>? userProperties = null;
        if (version == MqttProtocolVersion.V500)
        {
            var properties = MqttPropertyReader.Begin(ref reader, MqttPropertyContext.Connect);
            while (properties.TryRead(out var property))
            {
                switch (property.Id)
                {
                    case MqttPropertyId.SessionExpiryInterval:
                        sessionExpiry = property.Number;
                        break;
                    case MqttPropertyId.ReceiveMaximum:
                        receiveMaximum = (ushort)property.Number;
                        break;
                    case MqttPropertyId.MaximumPacketSize:
                        maximumPacketSize = property.Number;
                        break;
                    case MqttPropertyId.TopicAliasMaximum:
                        topicAliasMaximum = (ushort)property.Number;
                        break;
                    case MqttPropertyId.UserProperty:
                        (userProperties ??= []).Add(property.GetUserProperty());
                        break;
                    default:
                        // Request Problem/Response Information and authentication are validated but not modelled.
                        break;
                }
            }
        }

        var clientId = reader.ReadUtf8EncodedString();
        MqttWill? will = null;
        if (willFlag)
        {
            uint? delay = null;
            if (version == MqttProtocolVersion.V500)
            {
                var willProperties = MqttPropertyReader.Begin(ref reader, MqttPropertyContext.Will);
                while (willProperties.TryRead(out var property))
                {
                    if (property.Id == MqttPropertyId.WillDelayInterval)
                    {
                        delay = property.Number;
                    }
                }
            }

            var willTopic = reader.ReadUtf8EncodedString();
            var willPayload = reader.ReadBinaryData().ToArray();
            will = new MqttWill(willTopic, willPayload)
            {
                QoS = (MqttQualityOfService)willQoS,
                Retain = willRetain,
                DelayInterval = delay,
            };
        }

        var username = usernameFlag ? reader.ReadUtf8EncodedString() : null;
        // Typed explicitly: a null byte[] would otherwise become an empty, non-null ReadOnlyMemory.
        ReadOnlyMemory<byte>? password = passwordFlag ? new ReadOnlyMemory<byte>(reader.ReadBinaryData().ToArray()) : (ReadOnlyMemory<byte>?)null;
        reader.EnsureAtEnd("CONNECT");
        return new ConnectPacket(clientId, keepAlive, cleanStart)
        {
            ProtocolVersion = version,
            Username = username,
            Password = password,
            Will = will,
            SessionExpiryInterval = sessionExpiry,
            ReceiveMaximum = receiveMaximum,
            MaximumPacketSize = maximumPacketSize,
            TopicAliasMaximum = topicAliasMaximum,
            UserProperties = userProperties ?? (IReadOnlyList<MqttUserProperty>)[],
        };
    }

    private static ConnAckPacket DecodeConnAck(ref MqttBufferReader reader)
    {
        var acknowledgeFlags = reader.ReadByte();
        if ((acknowledgeFlags & 0xFE) != 0)
        {
            throw new MqttProtocolException(reader.Clause("5.0 §3.2.2.1", "3.1.1 §3.2.2.1"), "CONNACK reserved acknowledge flag bits are not 0");
        }

        var sessionPresent = (acknowledgeFlags & 0x01) != 0;
        var reasonCode = reader.ReadByte();
        if (reader.Version == MqttProtocolVersion.V311)
        {
            if (reasonCode > 5)
            {
                throw new MqttProtocolException("3.1.1 §3.2.2.3", $"CONNACK return code {reasonCode} is reserved");
            }
        }
        else
        {
            ReadOnlySpan<byte> valid = [0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F];
            ThrowIfReasonCodeInvalid(valid, reasonCode, "CONNACK", "5.0 §3.2.2.2");
        }

        if (sessionPresent && reasonCode != 0)
        {
            throw new MqttProtocolException(reader.Clause("MQTT-3.2.2-6", "MQTT-3.2.2-4"), "CONNACK refuses the connection but says a session is present");
        }

        var packet = new ConnAckPacket(sessionPresent, reasonCode);
        if (reader.Version == MqttProtocolVersion.V311)
        {
            reader.EnsureAtEnd("CONNACK");
            return packet;
        }

        List<MqttUserProperty>? userProperties = null;
        var properties = MqttPropertyReader.Begin(ref reader, MqttPropertyContext.ConnAck);
        while (properties.TryRead(out var property))
        {
            switch (property.Id)
            {
                case MqttPropertyId.SessionExpiryInterval:
                    packet = packet with { SessionExpiryInterval = property.Number };
                    break;
                case MqttPropertyId.ReceiveMaximum:
                    packet = packet with { ReceiveMaximum = (ushort)property.Number };
                    break;
                case MqttPropertyId.MaximumQoS:
                    packet = packet with { MaximumQoS = (MqttQualityOfService)property.Number };
                    break;
                case MqttPropertyId.RetainAvailable:
                    packet = packet with { RetainAvailable = property.Number == 1 };
                    break;
                case MqttPropertyId.MaximumPacketSize:
                    packet = packet with { MaximumPacketSize = property.Number };
                    break;
                case MqttPropertyId.AssignedClientIdentifier:
                    packet = packet with { AssignedClientIdentifier = property.GetString() };
                    break;
                case MqttPropertyId.TopicAliasMaximum:
                    packet = packet with { TopicAliasMaximum = (ushort)property.Number };
                    break;
                case MqttPropertyId.ReasonString:
                    packet = packet with { ReasonString = property.GetString() };
                    break;
                case MqttPropertyId.WildcardSubscriptionAvailable:
                    packet = packet with { WildcardSubscriptionAvailable = property.Number == 1 };
                    break;
                case MqttPropertyId.SubscriptionIdentifierAvailable:
                    packet = packet with { SubscriptionIdentifiersAvailable = property.Number == 1 };
                    break;
                case MqttPropertyId.SharedSubscriptionAvailable:
                    packet = packet with { SharedSubscriptionAvailable = property.Number == 1 };
                    break;
                case MqttPropertyId.ServerKeepAlive:
                    packet = packet with { ServerKeepAlive = (ushort)property.Number };
                    break;
                case MqttPropertyId.UserProperty:
                    (userProperties ??= []).Add(property.GetUserProperty());
                    break;
                default:
                    // Response Information, Server Reference and authentication are validated but not modelled.
                    break;
            }
        }

        reader.EnsureAtEnd("CONNACK");
        return userProperties is null ? packet : packet with { UserProperties = userProperties };
    }

    private static PubAckPacket DecodePubAck(ref MqttBufferReader reader)
    {
        var packetId = ReadNonZeroPacketId(ref reader, "PUBACK", identifiesNewPacket: false);
        if (reader.Version == MqttProtocolVersion.V311 || reader.IsAtEnd)
        {
            // 3.1.1 has only the id; in 5.0 a remaining length of 2 means Success and no properties (§3.4.2.1).
            reader.EnsureAtEnd("PUBACK");
            return new PubAckPacket(packetId);
        }

        var reasonCode = reader.ReadByte();
        ReadOnlySpan<byte> valid = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
        ThrowIfReasonCodeInvalid(valid, reasonCode, "PUBACK", "5.0 §3.4.2.1");

        // With a remaining length below 4 the Property Length is omitted and means 0 (§3.4.2.2).
        var properties = reader.IsAtEnd
            ? MqttPropertyReader.Empty(MqttPropertyContext.PubAck)
            : MqttPropertyReader.Begin(ref reader, MqttPropertyContext.PubAck);
        ReadAckProperties(ref properties, out var reasonString, out var userProperties);
        reader.EnsureAtEnd("PUBACK");
        return new PubAckPacket(packetId, reasonCode) { ReasonString = reasonString, UserProperties = userProperties };
    }

    private static SubscribePacket DecodeSubscribe(ref MqttBufferReader reader)
    {
        var packetId = ReadNonZeroPacketId(ref reader, "SUBSCRIBE", identifiesNewPacket: true);
        uint? subscriptionId = null;
        List<MqttUserProperty>? userProperties = null;
        if (reader.Version == MqttProtocolVersion.V500)
        {
            var properties = MqttPropertyReader.Begin(ref reader, MqttPropertyContext.Subscribe);
            while (properties.TryRead(out var property))
            {
                if (property.Id == MqttPropertyId.SubscriptionIdentifier)
                {
                    subscriptionId = property.Number;
                }
                else
                {
                    (userProperties ??= []).Add(property.GetUserProperty());
                }
            }
        }

        var subscriptions = new List<MqttSubscription>();
        while (!reader.IsAtEnd)
        {
            var filter = ReadTopicFilter(ref reader);
            var options = reader.ReadByte();
            var qos = options & 0b11;
            if (reader.Version == MqttProtocolVersion.V311)
            {
                if ((options & 0xFC) != 0 || qos == 3)
                {
                    throw new MqttProtocolException("MQTT-3.8.3-4", $"SUBSCRIBE requested QoS byte 0x{options:X2} has reserved bits set or QoS 3");
                }

                subscriptions.Add(new MqttSubscription(filter, (MqttQualityOfService)qos));
                continue;
            }

            if ((options & 0xC0) != 0)
            {
                throw new MqttProtocolException("MQTT-3.8.3-5", $"SUBSCRIBE options byte 0x{options:X2} has reserved bits set");
            }

            if (qos == 3)
            {
                throw new MqttProtocolException("5.0 §3.8.3.1", "SUBSCRIBE Maximum QoS is 3");
            }

            var retainHandling = (byte)((options >> 4) & 0b11);
            if (retainHandling == 3)
            {
                throw new MqttProtocolException("5.0 §3.8.3.1", "SUBSCRIBE Retain Handling is 3") { ReasonCode = 0x82 };
            }

            var noLocal = (options & 0x04) != 0;
            if (noLocal && filter.StartsWith("$share/", StringComparison.Ordinal))
            {
                throw new MqttProtocolException("MQTT-3.8.3-4", "SUBSCRIBE sets No Local on a shared subscription") { ReasonCode = 0x82 };
            }

            subscriptions.Add(new MqttSubscription(filter, (MqttQualityOfService)qos)
            {
                NoLocal = noLocal,
                RetainAsPublished = (options & 0x08) != 0,
                RetainHandling = retainHandling,
            });
        }

        if (subscriptions.Count == 0)
        {
            throw new MqttProtocolException(reader.Clause("MQTT-3.8.3-2", "MQTT-3.8.3-3"), "SUBSCRIBE has no topic filters") { ReasonCode = 0x82 };
        }

        return new SubscribePacket(packetId, subscriptions)
        {
            SubscriptionIdentifier = subscriptionId,
            UserProperties = userProperties ?? (IReadOnlyList<MqttUserProperty>)[],
        };
    }

    private static SubAckPacket DecodeSubAck(ref MqttBufferReader reader)
    {
        var packetId = ReadNonZeroPacketId(ref reader, "SUBACK", identifiesNewPacket: false);
        string? reasonString = null;
        IReadOnlyList<MqttUserProperty> userProperties = [];
        if (reader.Version == MqttProtocolVersion.V500)
        {
            var properties = MqttPropertyReader.Begin(ref reader, MqttPropertyContext.SubAck);
            ReadAckProperties(ref properties, out reasonString, out userProperties);
        }

        var codes = reader.ReadToEnd();
        if (codes.IsEmpty)
        {
            throw new MqttProtocolException(reader.Clause("5.0 §3.9.3", "3.1.1 §3.9.3"), "SUBACK has no reason codes");
        }

        ReadOnlySpan<byte> valid = reader.Version == MqttProtocolVersion.V311
            ? [0x00, 0x01, 0x02, 0x80]
            : [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2];
        foreach (var code in codes)
        {
            ThrowIfReasonCodeInvalid(valid, code, "SUBACK", reader.Clause("5.0 §3.9.3", "MQTT-3.9.3-2"));
        }

        return new SubAckPacket(packetId, codes.ToArray()) { ReasonString = reasonString, UserProperties = userProperties };
    }

    private static UnsubscribePacket DecodeUnsubscribe(ref MqttBufferReader reader)
    {
        var packetId = ReadNonZeroPacketId(ref reader, "UNSUBSCRIBE", identifiesNewPacket: true);
        List<MqttUserProperty>? userProperties = null;
        if (reader.Version == MqttProtocolVersion.V500)
        {
            var properties = MqttPropertyReader.Begin(ref reader, MqttPropertyContext.Unsubscribe);
            while (properties.TryRead(out var property))
            {
                (userProperties ??= []).Add(property.GetUserProperty());
            }
        }

        var filters = new List<string>();
        while (!reader.IsAtEnd)
        {
            filters.Add(ReadTopicFilter(ref reader));
        }

        if (filters.Count == 0)
        {
            throw new MqttProtocolException("MQTT-3.10.3-2", "UNSUBSCRIBE has no topic filters") { ReasonCode = 0x82 };
        }

        return new UnsubscribePacket(packetId, filters) { UserProperties = userProperties ?? (IReadOnlyList<MqttUserProperty>)[] };
    }

    private static UnsubAckPacket DecodeUnsubAck(ref MqttBufferReader reader)
    {
        var packetId = ReadNonZeroPacketId(ref reader, "UNSUBACK", identifiesNewPacket: false);
        if (reader.Version == MqttProtocolVersion.V311)
        {
            reader.EnsureAtEnd("UNSUBACK");
            return new UnsubAckPacket(packetId, []);
        }

        var properties = MqttPropertyReader.Begin(ref reader, MqttPropertyContext.UnsubAck);
        ReadAckProperties(ref properties, out var reasonString, out var userProperties);
        var codes = reader.ReadToEnd();
        if (codes.IsEmpty)
        {
            throw new MqttProtocolException("5.0 §3.11.3", "UNSUBACK has no reason codes");
        }

        ReadOnlySpan<byte> valid = [0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];
        foreach (var code in codes)
        {
            ThrowIfReasonCodeInvalid(valid, code, "UNSUBACK", "5.0 §3.11.3");
        }

        return new UnsubAckPacket(packetId, codes.ToArray()) { ReasonString = reasonString, UserProperties = userProperties };
    }

    private static MqttPacket DecodeEmpty(ref MqttBufferReader reader, MqttPacket packet)
    {
        reader.EnsureAtEnd(packet.Type.ToString().ToUpperInvariant());
        return packet;
    }

    private static DisconnectPacket DecodeDisconnect(ref MqttBufferReader reader)
    {
        if (reader.Version == MqttProtocolVersion.V311 || reader.IsAtEnd)
        {
            // 3.1.1 DISCONNECT has no body; a 5.0 one with remaining length 0 means Normal disconnection (§3.14.2.1).
            reader.EnsureAtEnd("DISCONNECT");
            return new DisconnectPacket();
        }

        var reasonCode = reader.ReadByte();
        ReadOnlySpan<byte> valid =
        [
            0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95,
            0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
        ];
        ThrowIfReasonCodeInvalid(valid, reasonCode, "DISCONNECT", "5.0 §3.14.2.1");
        var packet = new DisconnectPacket(reasonCode);
        if (reader.IsAtEnd)
        {
            return packet;
        }

        var properties = MqttPropertyReader.Begin(ref reader, MqttPropertyContext.Disconnect);
        while (properties.TryRead(out var property))
        {
            switch (property.Id)
            {
                case MqttPropertyId.SessionExpiryInterval:
                    packet = packet with { SessionExpiryInterval = property.Number };
                    break;
                case MqttPropertyId.ReasonString:
                    packet = packet with { ReasonString = property.GetString() };
                    break;
                case MqttPropertyId.ServerReference:
                    packet = packet with { ServerReference = property.GetString() };
                    break;
                default:
                    // User Properties are validated but DisconnectPacket does not carry them.
                    break;
            }
        }

        reader.EnsureAtEnd("DISCONNECT");
        return packet;
    }

    private static string ReadTopicFilter(ref MqttBufferReader reader)
    {
        var filter = reader.ReadUtf8EncodedString();
        if (filter.Length == 0)
        {
            throw new MqttProtocolException("MQTT-4.7.3-1", "Topic Filter is empty");
        }

        return filter;
    }

    private static void ReadAckProperties(ref MqttPropertyReader properties, out string? reasonString, out IReadOnlyList<MqttUserProperty> userProperties)
    {
        reasonString = null;
        List<MqttUserProperty>? list = null;
        while (properties.TryRead(out var property))
        {
            if (property.Id == MqttPropertyId.ReasonString)
            {
                reasonString = property.GetString();
            }
            else
            {
                (list ??= []).Add(property.GetUserProperty());
            }
        }

        userProperties = list ?? (IReadOnlyList<MqttUserProperty>)[];
    }

    private static void ThrowIfReasonCodeInvalid(ReadOnlySpan<byte> valid, byte reasonCode, string packetName, string clause)
    {
        if (!valid.Contains(reasonCode))
        {
            throw new MqttProtocolException(clause, $"{packetName} reason code 0x{reasonCode:X2} is not defined for this packet");
        }
    }
}
