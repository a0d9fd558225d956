// The receiver side of net-snmp (plain JS, no bundled types) this connector uses, as its README documents it.
declare module 'net-snmp' {
  import type { Socket } from 'node:dgram';

  export interface Varbind {
    oid: string;
    type: number;
    value: unknown;
  }

  /** A USM user as the authorizer holds it. */
  export interface User {
    name: string;
    level: number;
    authProtocol?: number;
    authKey?: string;
    privProtocol?: number;
    privKey?: string;
  }

  export interface Pdu {
    type: number;
    /** The request-id (v2c/v3 PDUs). */
    id?: number;
    varbinds: Varbind[];
    /** v1 Trap-PDU fields. */
    enterprise?: string;
    agentAddr?: string;
    generic?: number;
    specific?: number;
    upTime?: number;
    /** With `includeAuthentication`. */
    community?: string;
    user?: string;
  }

  export interface Notification {
    pdu: Pdu;
    rinfo: { address: string; family: string; port: number; size: number };
  }

  export interface Authorizer {
    addCommunity(community: string): void;
    getCommunities(): string[];
    deleteCommunity(community: string): void;
    addUser(user: User): void;
    getUsers(): User[];
    deleteUser(name: string): void;
  }

  export interface ReceiverOptions {
    port?: number;
    address?: string | null;
    transport?: 'udp4' | 'udp6';
    engineID?: string;
    includeAuthentication?: boolean;
    disableAuthorization?: boolean;
    /** A module interface-compatible with node:dgram; the receiver creates its sockets through it. */
    dgramModule?: { createSocket(type: 'udp4' | 'udp6'): Socket };
  }

  export interface Receiver {
    getAuthorizer(): Authorizer;
    close(callback?: (socket: unknown) => void): void;
  }

  /** Errors carry the sender (`rinfo`) when they came from a received datagram. */
  export type ReceiverCallback = (error: (Error & { rinfo?: { address: string; port: number } }) | null, notification: Notification | null) => void;

  export function createReceiver(options: ReceiverOptions, callback: ReceiverCallback): Receiver;

  export const ObjectType: Record<string, number> & Record<number, string>;
  export const PduType: Record<string, number> & Record<number, string>;
  export const SecurityLevel: Record<'noAuthNoPriv' | 'authNoPriv' | 'authPriv', number>;
  export const AuthProtocols: Record<'md5' | 'sha' | 'sha224' | 'sha256' | 'sha384' | 'sha512', number>;
  export const PrivProtocols: Record<'des' | 'aes' | 'aes256b' | 'aes256r', number>;

  const snmp: {
    createReceiver: typeof createReceiver;
    ObjectType: typeof ObjectType;
    PduType: typeof PduType;
    SecurityLevel: typeof SecurityLevel;
    AuthProtocols: typeof AuthProtocols;
    PrivProtocols: typeof PrivProtocols;
  };
  export default snmp;
}
