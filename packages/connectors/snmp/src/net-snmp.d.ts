// The part of net-snmp (plain JS, no bundled types) probemesh uses, as its README documents it:
// sessions (this connector) and the trap receiver (@probemesh/connector-trap includes this file).
declare module 'net-snmp' {
  import type { EventEmitter } from 'node:events';
  import type { Socket } from 'node:dgram';

  export interface Varbind {
    oid: string;
    type: number;
    value: unknown;
  }
  export type Callback<T> = (error: Error | null, result: T) => void;

  export interface SessionOptions {
    port?: number;
    retries?: number;
    timeout?: number;
    backoff?: number;
    transport?: 'udp4' | 'udp6';
    version?: number;
    idBitsSize?: 16 | 32;
    context?: string;
    backwardsGetNexts?: boolean;
    /** A module interface-compatible with node:dgram; the session creates its socket through it. */
    dgramModule?: { createSocket(type: 'udp4' | 'udp6'): Socket };
  }
  export interface User {
    name: string;
    level: number;
    authProtocol?: number;
    authKey?: string;
    privProtocol?: number;
    privKey?: string;
  }

  export interface Session extends EventEmitter {
    get(oids: string[], cb: Callback<Varbind[]>): this;
    getNext(oids: string[], cb: Callback<Varbind[]>): this;
    getBulk(oids: string[], nonRepeaters: number, maxRepetitions: number, cb: Callback<Varbind[][]>): this;
    subtree(oid: string, maxRepetitions: number, feed: (varbinds: Varbind[]) => boolean | void, done: (error: Error | null) => void): this;
    walk(oid: string, maxRepetitions: number, feed: (varbinds: Varbind[]) => boolean | void, done: (error: Error | null) => void): this;
    table(oid: string, maxRepetitions: number, cb: Callback<Record<string, Record<string, unknown>>>): this;
    close(): this;
  }

  export interface ModuleStore {
    loadFromFile(fileName: string): void;
    getModuleNames(includeBase?: boolean): string[];
    translate(name: string, destinationFormat: string): string;
    translations: { moduleToOid: Record<string, string>; oidToModule: Record<string, string> };
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
  export const PduType: Record<string, number> & Record<number, string>;

  export function createSession(target: string, community: string, options?: SessionOptions): Session;
  export function createV3Session(target: string, user: User, options?: SessionOptions): Session;
  export function createModuleStore(options?: { baseModules?: string[] }): ModuleStore;
  export function isVarbindError(varbind: Varbind): boolean;
  export function varbindError(varbind: Varbind): string;

  export const Version1: number;
  export const Version2c: number;
  export const Version3: number;
  export const ObjectType: Record<string, number> & Record<number, string>;
  export const ErrorStatus: Record<string, number> & Record<number, string>;
  export const SecurityLevel: Record<'noAuthNoPriv' | 'authNoPriv' | 'authPriv', number>;
  export const AuthProtocols: Record<'md5' | 'sha' | 'sha224' | 'sha256' | 'sha384' | 'sha512', number>;
  export const PrivProtocols: Record<'des' | 'aes' | 'aes256b' | 'aes256r', number>;
  export const ResponseInvalidCode: Record<string, number> & Record<number, string>;
  export const OidFormat: { oid: 'oid'; path: 'path'; module: 'module' };

  export class RequestFailedError extends Error {
    status: number;
  }
  export class RequestTimedOutError extends Error {}
  export class RequestInvalidError extends Error {}
  export class ResponseInvalidError extends Error {
    code: number;
    info?: unknown;
  }

  const snmp: {
    createReceiver: typeof createReceiver;
    PduType: typeof PduType;
    createSession: typeof createSession;
    createV3Session: typeof createV3Session;
    createModuleStore: typeof createModuleStore;
    isVarbindError: typeof isVarbindError;
    varbindError: typeof varbindError;
    Version1: number;
    Version2c: number;
    Version3: number;
    ObjectType: typeof ObjectType;
    ErrorStatus: typeof ErrorStatus;
    SecurityLevel: typeof SecurityLevel;
    AuthProtocols: typeof AuthProtocols;
    PrivProtocols: typeof PrivProtocols;
    ResponseInvalidCode: typeof ResponseInvalidCode;
    OidFormat: typeof OidFormat;
    RequestFailedError: typeof RequestFailedError;
    RequestTimedOutError: typeof RequestTimedOutError;
    RequestInvalidError: typeof RequestInvalidError;
    ResponseInvalidError: typeof ResponseInvalidError;
  };
  export default snmp;
}
